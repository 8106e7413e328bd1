{#- One row per lead: when it first entered each stage of lead -> MQL -> SQL -> opportunity
    -> customer, its MQL episodes, its current stage and why (SPEC §7). MQL and SQL moments
    come from our definitions, or from the CRM's stage history when lifecycle.stage_source is
    crm; opportunities and wins always come from the opportunities extract.

    Stage timestamps never decrease along the path: an SQL is the first qualifying
    qualification at or before the first opportunity; an MQL is the first MQL at or before
    the SQL (or opportunity). A computed stage entered out of order is not back-filled: the
    later stage is kept and the skipped one is flagged. A stage the CRM recorded (and any
    stage dated before the lead's creation) is never dropped: it is put in order - at the
    lead's creation, or at the later stage's time - and flagged, so every mart counts it
    and fct_definition_exceptions lists it for the sales feedback.

    fct_lead_lifecycle publishes these rows; the intermediate models that need a lead's
    stages read them here.

    Nothing here depends on the day it is built, so it is incremental by lead
    (macros/by_lead_incremental.sql): a daily build redoes the leads with any new row, opportunities
    and CRM stage entries included.
-#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

leads as (
    select * from {{ ref('int_leads_classified') }}{{ of_rebuilt_leads() }}
),

mql_episodes as (
    select * from {{ ref('int_lead_mql_events') }}{{ of_rebuilt_leads() }}
),

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}{{ of_rebuilt_leads() }}
),

opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}{{ of_rebuilt_leads() }}
),

crm_entries as (
    select * from {{ ref('int_crm_stage_entries') }}{{ of_rebuilt_leads() }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- Facts from the opportunities extract.
opportunity_dates as (
    select
        lead_id,
        min(created_at) as first_opportunity_created_at,
        min(case when is_won then coalesce(closed_at, updated_at) end) as first_won_at,
        count(*) as opportunity_count
    from opportunities
    group by lead_id
),

-- The lead's creation and its first opportunity, never before the lead itself: a deal the
-- CRM dates before the lead's first contact counts from the lead's creation (flagged).
path_facts as (
    select
        l.lead_id,
        l.created_at,
        s.stage_source,
        o.first_opportunity_created_at,
        o.first_won_at,
        case
            when o.first_opportunity_created_at < l.created_at then l.created_at
            else o.first_opportunity_created_at
        end as opportunity_at
    from leads as l
    cross join settings as s
    left join opportunity_dates as o on l.lead_id = o.lead_id
),

-- SQL moments from the source the definitions name: qualifications meeting the SQL rule
-- (computed), or the CRM's recorded SQL entries (crm).
sql_events as (
    select q.lead_id, q.qualified_at as sql_event_at
    from qualifications as q
    cross join settings as s
    where s.stage_source = 'computed' and q.is_sql_qualification
    union all
    select e.lead_id, e.entered_at
    from crm_entries as e
    cross join settings as s
    where s.stage_source = 'crm' and e.stage = 'sql'
),

first_sql_events as (
    select lead_id, min(sql_event_at) as first_sql_event_at
    from sql_events
    group by lead_id
),

-- The SQL on the path: the first SQL moment, put between the lead's creation and its first
-- opportunity (macros/lifecycle.sql). A computed one after the opportunity is no SQL
-- (skipped_sql); one the CRM recorded is kept at the opportunity's time. Both are flagged.
sql_dates as (
    select
        f.lead_id,
        e.first_sql_event_at,
        {{ stage_on_path('e.first_sql_event_at', 'f.created_at', 'f.opportunity_at', 'f.stage_source') }}
            as sql_at
    from path_facts as f
    inner join first_sql_events as e on f.lead_id = e.lead_id
),

-- The MQL on the path, by the same rule one stage earlier: at or before the SQL (or the
-- opportunity). A computed MQL after them is not on the path (skipped_mql); the CRM's
-- recorded MQL is kept at their time.
mql_dates as (
    select
        f.lead_id,
        min(m.mql_at) as first_mql_event_at,
        max(m.mql_at) as last_mql_event_at,
        count(*) as mql_episode_count,
        coalesce(min(s.sql_at), f.opportunity_at) as later_stage_at
    from path_facts as f
    inner join mql_episodes as m on f.lead_id = m.lead_id
    left join sql_dates as s on f.lead_id = s.lead_id
    group by f.lead_id, f.opportunity_at
),

mql_on_path as (
    select
        m.*,
        {{ stage_on_path('m.first_mql_event_at', 'f.created_at', 'm.later_stage_at', 'f.stage_source') }}
            as mql_at
    from mql_dates as m
    inner join path_facts as f on m.lead_id = f.lead_id
),

first_mql as (
    select lead_id, mql_trigger
    from ({{ first_row_per('mql_episodes', 'lead_id', 'mql_at, mql_episode') }}) as first_episode
),

last_qualification as (
    select lead_id, outcome, reason, rejection_treatment, qualified_at
    from ({{ first_row_per('qualifications', 'lead_id', 'qualified_at desc, qualification_id desc') }})
        as latest
),

stages as (
    select
        l.lead_id,
        l.acquisition_mode,
        l.channel_group,
        l.segment,
        l.owner_id,
        l.is_excluded,
        l.exclusion_reason,
        l.created_at as lead_created_at,
        f.stage_source,
        m.mql_at,
        case
            when m.last_mql_event_at < m.mql_at then m.mql_at
            else m.last_mql_event_at
        end as latest_mql_at,
        coalesce(m.mql_episode_count, 0) as mql_episode_count,
        m.first_mql_event_at,
        m.later_stage_at,
        fm.mql_trigger as first_mql_trigger,
        s.sql_at,
        s.first_sql_event_at,
        f.opportunity_at,
        f.first_opportunity_created_at,
        f.first_won_at,
        coalesce(o.opportunity_count, 0) as opportunity_count,
        q.outcome as last_qualification_outcome,
        q.reason as last_qualification_reason,
        q.rejection_treatment as last_rejection_treatment,
        q.qualified_at as last_qualified_at,
        l.definitions_version
    from leads as l
    inner join path_facts as f on l.lead_id = f.lead_id
    left join mql_on_path as m on l.lead_id = m.lead_id
    left join first_mql as fm on l.lead_id = fm.lead_id
    left join sql_dates as s on l.lead_id = s.lead_id
    left join opportunity_dates as o on l.lead_id = o.lead_id
    left join last_qualification as q on l.lead_id = q.lead_id
),

with_stage as (
    select
        *,
        case
            when first_won_at is not null then 'customer'
            when opportunity_at is not null then 'opportunity'
            when sql_at is not null then 'sql'
            when is_excluded then 'disqualified'
            -- rejected since the latest MQL: nurtured or disqualified, as its reason says
            when last_qualification_outcome = 'rejected'
                and last_qualified_at >= coalesce(latest_mql_at, lead_created_at)
                and last_rejection_treatment = 'nurture' then 'nurtured'
            when last_qualification_outcome = 'rejected'
                and last_qualified_at >= coalesce(latest_mql_at, lead_created_at) then 'disqualified'
            when last_qualification_outcome = 'recycled'
                and (latest_mql_at is null or latest_mql_at <= last_qualified_at) then 'recycled'
            when latest_mql_at is not null then 'mql'
            else 'lead'
        end as current_stage
    from stages
),

final as (
    select
        lead_id,
        acquisition_mode,
        channel_group,
        segment,
        owner_id,
        lead_created_at,
        mql_at,
        latest_mql_at,
        mql_episode_count,
        first_mql_trigger = 'fast_track' as is_fast_tracked,
        sql_at,
        opportunity_at,
        case
            when first_won_at is null then null
            when first_won_at < opportunity_at then opportunity_at
            else first_won_at
        end as customer_at,
        opportunity_count,
        current_stage,
        case
            when current_stage <> 'disqualified' then null
            when is_excluded then exclusion_reason
            else coalesce(last_qualification_reason, 'rejected by sales')
        end as disqualification_reason,
        case when current_stage in ('recycled', 'nurtured') then last_qualification_reason end
            as recycle_reason,
        exclusion_reason,
        is_excluded,
        acquisition_mode = 'inbound' and mql_at is null
            and (sql_at is not null or opportunity_at is not null) as skipped_mql,
        opportunity_at is not null and sql_at is null as skipped_sql,
        -- stage dates the sources give out of order (fct_definition_exceptions lists them)
        coalesce(first_sql_event_at > opportunity_at, false) as sql_after_opportunity,
        coalesce(first_mql_event_at > later_stage_at, false) as mql_after_sql,
        coalesce(first_mql_event_at < lead_created_at, false) as mql_before_created,
        coalesce(first_sql_event_at < lead_created_at, false) as sql_before_created,
        coalesce(first_opportunity_created_at < lead_created_at, false)
            as opportunity_before_created,
        coalesce(first_won_at < lead_created_at, false) as won_before_created,
        definitions_version
    from with_stage
)

select * from final
