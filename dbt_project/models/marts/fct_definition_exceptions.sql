{#- Records that break the definitions, for the sales feedback loop: one row per
    (exception_type, object_id).

    Every exception belongs to one lead (an unknown lead's records carry its id) and depends
    only on that lead's rows, never on the day: incremental by lead (macros/incremental.sql).
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
