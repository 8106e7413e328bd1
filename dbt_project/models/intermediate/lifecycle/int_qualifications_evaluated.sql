{#- Each sales qualification against the SQL rule (enough BANT criteria and, when required,
    a scheduled next step), and what it does to the lead's episodes (SPEC §7): a recycle or a
    rejection for a nurture reason starts a new episode; a disqualifying rejection ends one. -#}
with qualifications as (
    select * from {{ ref('stg_crm__qualifications') }}
),

rejection_reasons as (
    select * from {{ ref('def_rejection_reasons') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

counted as (
    select
        q.*,
        (case when q.has_need then 1 else 0 end)
            + (case when q.has_budget then 1 else 0 end)
            + (case when q.has_authority then 1 else 0 end)
            + (case when q.has_timing then 1 else 0 end) as bant_criteria_met,
        q.next_step_at is not null as has_next_step,
        s.sql_min_bant_criteria,
        s.sql_requires_next_step,
        case
            when q.outcome = 'rejected' then coalesce(r.treatment, s.unlisted_rejection_treatment)
        end as rejection_treatment
    from qualifications as q
    cross join settings as s
    left join rejection_reasons as r on lower(trim(q.reason)) = r.reason
),

final as (
    select
        *,
        bant_criteria_met >= sql_min_bant_criteria
            and (has_next_step or not sql_requires_next_step) as meets_sql_rule,
        outcome = 'accepted'
            and bant_criteria_met >= sql_min_bant_criteria
            and (has_next_step or not sql_requires_next_step) as is_sql_qualification,
        outcome = 'accepted'
            and not (bant_criteria_met >= sql_min_bant_criteria
                and (has_next_step or not sql_requires_next_step)) as is_accepted_exception,
        outcome = 'recycled' or coalesce(rejection_treatment = 'nurture', false) as starts_episode,
        coalesce(rejection_treatment = 'disqualify', false) as ends_episode
    from counted
)

select * from final
