{#- Records that break the definitions, for the sales feedback loop: one row per
    (exception_type, object_id).

    Every exception belongs to one lead (an unknown lead's records carry its id) and depends
    only on that lead's rows, never on the day: incremental by lead (macros/by_lead_incremental.sql).
    When an unknown lead's row arrives, the lead is rebuilt and its exceptions go. -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}{{ of_rebuilt_leads() }}
),

lifecycle as (
    select * from {{ ref('fct_lead_lifecycle') }}{{ of_rebuilt_leads() }}
),

leads as (
    select * from {{ ref('stg_crm__leads') }}{{ of_rebuilt_leads() }}
),

activities as (
    select * from {{ ref('stg_crm__activities') }}{{ of_rebuilt_leads() }}
),

opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}{{ of_rebuilt_leads() }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

accepted_without_sql_criteria as (
    select
        'accepted_without_sql_criteria' as exception_type,
        q.qualification_id as object_id,
        q.lead_id,
        q.qualified_at as occurred_at,
        q.rep_id,
        'accepted with ' || cast(q.bant_criteria_met as {{ dbt.type_string() }})
            || ' of 4 BANT criteria (rule: ' || cast(q.sql_min_bant_criteria as {{ dbt.type_string() }})
            || ')' || case when q.sql_requires_next_step and not q.has_next_step
                then ', no next step scheduled' else '' end as detail
    from qualifications as q
    where q.is_accepted_exception
),

first_opportunities as (
    select lead_id, opportunity_id, created_at
    from ({{ first_row_per('opportunities', 'lead_id', 'created_at, opportunity_id') }}) as first_opportunity
),

opportunity_without_sql as (
    select
        case when l.sql_after_opportunity then 'sql_after_opportunity'
             else 'opportunity_without_sql' end as exception_type,
        o.opportunity_id as object_id,
        l.lead_id,
        o.created_at as occurred_at,
        l.owner_id as rep_id,
        case when l.sql_after_opportunity
            then 'opportunity opened before the lead met the SQL rule'
            else 'opportunity opened for a lead that never met the SQL rule' end as detail
    from lifecycle as l
    inner join first_opportunities as o on l.lead_id = o.lead_id
    where l.skipped_sql
),

won_opportunities as (
    select opportunity_id, lead_id, coalesce(closed_at, updated_at) as won_at
    from opportunities
    where is_won and coalesce(closed_at, updated_at) is not null
),

first_won_opportunities as (
    select lead_id, opportunity_id, won_at
    from ({{ first_row_per('won_opportunities', 'lead_id', 'won_at, opportunity_id') }}) as first_won
),

-- Stage dates the sources give in an impossible order, which the lifecycle put in order
-- (at the lead's creation, or at the later stage's time): listed so that the record can be
-- corrected where it was entered. A computed MQL after the SQL is no stage of the path
-- (skipped_mql), not a record to correct.
out_of_order_stages as (
    select
        'opportunity_before_created' as exception_type,
        o.opportunity_id as object_id,
        l.lead_id,
        o.created_at as occurred_at,
        l.owner_id as rep_id,
        'opportunity opened before the lead was created; counted from the lead''s creation'
            as detail
    from lifecycle as l
    inner join first_opportunities as o on l.lead_id = o.lead_id
    where l.opportunity_before_created
    union all
    select
        'won_before_created', w.opportunity_id, l.lead_id, w.won_at, l.owner_id,
        'deal won before the lead was created; the lead counts as a customer from its creation'
    from lifecycle as l
    inner join first_won_opportunities as w on l.lead_id = w.lead_id
    where l.won_before_created
    union all
    select
        'sql_before_created', l.lead_id, l.lead_id, l.sql_at, l.owner_id,
        'SQL dated before the lead was created; counted at the lead''s creation'
    from lifecycle as l
    where l.sql_before_created
    union all
    select
        'mql_before_created', l.lead_id, l.lead_id, l.mql_at, l.owner_id,
        'MQL recorded before the lead was created; counted at the lead''s creation'
    from lifecycle as l
    where l.mql_before_created
    union all
    select
        'mql_after_sql', l.lead_id, l.lead_id, l.mql_at, l.owner_id,
        'MQL recorded after the lead''s SQL or opportunity; counted at that later stage''s time'
    from lifecycle as l
    cross join settings as s
    where l.mql_after_sql and s.stage_source = 'crm'
    union all
    select
        'sql_after_opportunity', l.lead_id, l.lead_id, l.sql_at, l.owner_id,
        'SQL recorded after the opportunity was opened; counted at the opportunity''s opening'
    from lifecycle as l
    where l.sql_after_opportunity and not l.skipped_sql
),

-- One pass over the activities (the largest table) for both activity exceptions.
activity_exceptions as (
    select
        case when l.lead_id is null then 'activity_for_unknown_lead'
             else 'activity_before_lead_creation' end as exception_type,
        a.activity_id as object_id,
        a.lead_id,
        a.occurred_at,
        l.owner_id as rep_id,
        case when l.lead_id is null then 'no lead ' || a.lead_id || ' in the CRM extract'
             else 'activity ' || a.activity_type || ' before the lead was created' end as detail
    from activities as a
    left join leads as l on a.lead_id = l.lead_id
    where l.lead_id is null or a.occurred_at < l.created_at
),

record_exceptions as (
    select * from activity_exceptions
    union all
    select
        'qualification_for_unknown_lead',
        q.qualification_id,
        q.lead_id,
        q.qualified_at,
        q.rep_id,
        'no lead ' || q.lead_id || ' in the CRM extract'
    from qualifications as q
    left join leads as l on q.lead_id = l.lead_id
    where l.lead_id is null
    union all
    select
        'opportunity_for_unknown_lead',
        o.opportunity_id,
        o.lead_id,
        o.created_at,
        cast(null as {{ dbt.type_string() }}),
        'no lead ' || o.lead_id || ' in the CRM extract'
    from opportunities as o
    left join leads as l on o.lead_id = l.lead_id
    where l.lead_id is null
),

unioned as (
    select * from accepted_without_sql_criteria
    union all
    select * from opportunity_without_sql
    union all
    select * from out_of_order_stages
    union all
    select * from record_exceptions
),

final as (
    select
        u.exception_type,
        u.object_id,
        u.lead_id,
        u.occurred_at,
        cast({{ dbt.date_trunc('week', utc_to_local('u.occurred_at', 's.reporting_timezone')) }} as date)
            as occurred_week_start_date,
        u.rep_id,
        u.detail,
        s.definitions_version
    from unioned as u
    cross join settings as s
)

select * from final
