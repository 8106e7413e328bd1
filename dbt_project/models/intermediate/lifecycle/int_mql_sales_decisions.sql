{#- What sales decided about each MQL handover the lifecycle and the SLA count
    (int_mql_handovers: our scoring's episodes, or the CRM's MQL dates): the
    lead's first qualification at or after the handover and before its next MQL - accepted,
    recycled, rejected for a nurture reason (nurtured: it may come back), rejected for good
    (disqualified; recycle.rejection_reasons says which) - or undecided, with how long the
    decision took or how old the undecided MQL is at the warehouse's cut-off; and the lead's score (when our
    scoring made the MQL) and fit, in bands of `calibration.score_band_width`. -#}
with handovers as (
    select * from {{ ref('int_mql_handovers') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

scored_episodes as (
    select * from {{ ref('int_lead_mql_episodes') }}
),

-- each episode runs until the lead's next one (int_mql_handovers.next_mql_at)
bounded as (
    select
        h.lead_id,
        h.mql_episode,
        h.mql_at,
        h.next_mql_at,
        s.mql_lead_score,
        l.fit_score as mql_fit_score
    from handovers as h
    inner join leads as l on h.lead_id = l.lead_id
    left join scored_episodes as s on h.lead_id = s.lead_id and h.mql_at = s.mql_at
),

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

decided as (
    select
        b.lead_id,
        b.mql_episode,
        q.qualified_at,
        case
            when q.rejection_treatment = 'nurture' then 'nurtured'
            when q.rejection_treatment = 'disqualify' then 'disqualified'
            else q.outcome
        end as outcome,
        q.reason,
        q.qualification_id
    from bounded as b
    inner join qualifications as q
        on b.lead_id = q.lead_id
        and q.qualified_at >= b.mql_at
        and (b.next_mql_at is null or q.qualified_at < b.next_mql_at)
),

first_decisions as (
    {{ first_row_per('decided', 'lead_id, mql_episode', 'qualified_at, qualification_id') }}
),

final as (
    select
        b.lead_id,
        b.mql_episode,
        b.mql_at,
        l.segment,
        l.channel_group,
        l.owner_id,
        b.mql_lead_score,
        b.mql_fit_score,
        cast(least(floor(b.mql_lead_score / s.calibration_score_band_width),
                   ceil(100 / s.calibration_score_band_width) - 1) as {{ dbt.type_int() }}) as score_band_index,
        cast(least(floor(b.mql_fit_score / s.calibration_score_band_width),
                   ceil(100 / s.calibration_score_band_width) - 1) as {{ dbt.type_int() }}) as fit_band_index,
        s.calibration_score_band_width as band_width,
        coalesce(d.outcome, 'undecided') as decision,
        d.reason as decision_reason,
        d.qualified_at as decided_at,
        {{ dbt.datediff('b.mql_at', 'd.qualified_at', 'second') }} / 86400.0 as days_to_decision,
        case when d.lead_id is null
            then {{ dbt.datediff('b.mql_at', 'a.scored_as_of_at', 'second') }} / 86400.0
        end as undecided_age_days
    from bounded as b
    inner join leads as l on b.lead_id = l.lead_id
    cross join as_of as a
    cross join settings as s
    left join first_decisions as d on b.lead_id = d.lead_id and b.mql_episode = d.mql_episode
)

select * from final
