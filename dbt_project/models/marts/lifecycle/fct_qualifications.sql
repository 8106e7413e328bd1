{#- Every sales qualification with its outcome, reason and verdict against the SQL rule: the
    sales feedback loop (rejection and recycle reasons by week, rep, channel and segment). -#}
with qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

localised as (
    select
        q.*,
        {{ utc_to_local('q.qualified_at', 's.reporting_timezone') }} as qualified_local,
        s.definitions_version
    from qualifications as q
    cross join settings as s
),

final as (
    select
        q.qualification_id,
        q.lead_id,
        q.qualified_at,
        cast({{ dbt.date_trunc('week', 'q.qualified_local') }} as date) as qualified_week_start_date,
        q.rep_id,
        q.outcome,
        q.reason,
        q.bant_criteria_met,
        q.has_next_step,
        q.meets_sql_rule,
        q.is_sql_qualification,
        q.is_accepted_exception,
        l.segment,
        l.channel_group,
        l.acquisition_mode,
        q.definitions_version
    from localised as q
    left join leads as l on q.lead_id = l.lead_id
)

select * from final
