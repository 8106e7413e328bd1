{#- What the win probability learns from: every inbound lead of the scoring's evaluation set
    (scored at its evaluation moment from earlier activities only, int_scoring_evaluation),
    its segment, channel and score band, and whether a deal was won within
    `revenue.win_horizon_days` after the evaluation horizon. A lead is matured once that window
    has passed by the warehouse's cut-off; the matured leads of the latest
    `revenue.holdout_weeks` weeks are held out: the check calibrates without them. -#}
with evaluation as (
    select * from {{ ref('int_scoring_evaluation') }}
    where evaluation_status <> 'excluded'
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

history as (
    select
        e.lead_id,
        e.created_at,
        cast({{ dbt.date_trunc('week', utc_to_local('e.created_at', 's.reporting_timezone')) }} as date)
            as created_week_start_date,
        l.segment,
        l.channel_group,
        e.lead_score,
        floor(e.lead_score / s.win_score_band_width) as score_band,
        e.customer_at,
        {{ dbt.dateadd('day', 's.win_horizon_days', 'e.horizon_at') }} as win_window_end_at,
        a.scored_as_of_at,
        s.win_holdout_weeks
    from evaluation as e
    inner join leads as l on e.lead_id = l.lead_id
    cross join as_of as a
    cross join settings as s
),

windowed as (
    select
        *,
        win_window_end_at <= scored_as_of_at as is_matured,
        coalesce(customer_at <= win_window_end_at, false) as is_won
    from history
),

-- a deal counts when won (closed; its creation date without a close date) within the window
won_amounts as (
    select h.lead_id, sum(o.won_amount) as won_amount
    from windowed as h
    inner join opportunities as o on h.lead_id = o.lead_id
    where o.is_won and coalesce(o.closed_at, o.created_at) <= h.win_window_end_at
    group by h.lead_id
),

last_matured_week as (
    select max(created_week_start_date) as week_start_date from windowed where is_matured
),

final as (
    select
        h.lead_id,
        h.created_at,
        h.created_week_start_date,
        h.segment,
        h.channel_group,
        h.lead_score,
        h.score_band,
        h.is_matured,
        h.is_won,
        coalesce(wa.won_amount, 0) as won_amount,
        h.is_matured and h.created_week_start_date
            > {{ dbt.dateadd('day', '-7 * h.win_holdout_weeks', 'w.week_start_date') }} as is_holdout
    from windowed as h
    cross join last_matured_week as w
    left join won_amounts as wa on h.lead_id = wa.lead_id
)

select * from final
