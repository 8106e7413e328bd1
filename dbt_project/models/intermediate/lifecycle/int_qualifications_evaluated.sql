{#- Each sales qualification against the SQL rule: enough BANT criteria and, when
    required, a scheduled next step. -#}
with qualifications as (
    select * from {{ ref('stg_crm__qualifications') }}
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
        s.sql_requires_next_step
    from qualifications as q
    cross join settings as s
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
                and (has_next_step or not sql_requires_next_step)) as is_accepted_exception
    from counted
)

select * from final
