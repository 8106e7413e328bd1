{#- The part of the scoring's evaluation set (int_scoring_evaluation) that no later day
    changes: each inbound lead scored at its evaluation moment - `calibration.horizon_days`
    after creation, or just before it became SQL (or got an opportunity) if that came sooner -
    from prospect activities strictly before that moment, and its outcomes within their windows
    after the horizon: SQL, opportunity, and the outcome the definitions name
    (`calibration.outcome`: sql, opportunity, won or won_amount, within
    `calibration_outcome_window_days`). Whether those windows have passed depends on the day, so the
    status is added downstream.

    Incremental by lead (macros/by_lead_incremental.sql): a new opportunity or CRM stage entry moves a
    lead's evaluation moment, and counts as a new row of the lead like any other.
-#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

leads as (
    select * from {{ ref('int_leads_classified') }}{{ of_rebuilt_leads() }}
),

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}{{ of_rebuilt_leads() }}
),

activities as (
    select * from {{ ref('int_activities_scored') }}{{ of_rebuilt_leads(built_at='built_at') }}
),

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}{{ of_rebuilt_leads() }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}{{ of_rebuilt_leads() }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

population as (
    select
        l.lead_id,
        l.created_at,
        l.is_excluded,
        l.fit_score,
        lc.sql_at,
        lc.opportunity_at,
        lc.customer_at,
        {{ dbt.dateadd('day', 's.calibration_horizon_days', 'l.created_at') }} as horizon_at,
        s.mql_to_sql_maturity_days as sql_window_days,
        s.mql_to_sql_maturity_days + s.sql_to_opportunity_maturity_days as opportunity_window_days,
        s.calibration_outcome as outcome,
        s.calibration_outcome_window_days as outcome_window_days
    from leads as l
    inner join lifecycle as lc on l.lead_id = lc.lead_id
    cross join settings as s
    where l.acquisition_mode = 'inbound'
),

moments as (
    select
        p.*,
        case
            when p.sql_at is not null and p.sql_at < p.horizon_at
                and (p.opportunity_at is null or p.sql_at <= p.opportunity_at) then p.sql_at
            when p.opportunity_at is not null and p.opportunity_at < p.horizon_at then p.opportunity_at
            else p.horizon_at
        end as evaluated_at
    from population as p
),

prior_activities as (
    select
        a.lead_id,
        a.activity_id,
        a.occurred_at,
        a.episode,
        a.episode_origin_at,
        a.decayed_sum_at_origin,
        m.evaluated_at
    from activities as a
    inner join moments as m
        on a.lead_id = m.lead_id and a.occurred_at < m.evaluated_at
),

last_prior_activity as (
    {{ first_row_per('prior_activities', 'lead_id', 'occurred_at desc, activity_id desc') }}
),

recycles_before as (
    select q.lead_id, count(*) as recycles
    from qualifications as q
    inner join moments as m on q.lead_id = m.lead_id and q.qualified_at < m.evaluated_at
    where q.starts_episode
    group by q.lead_id
),

-- A deal counts when it was won (closed; its creation date when the export has no close date)
-- by the end of the outcome window.
won_in_window as (
    select m.lead_id, sum(o.won_amount) as won_amount
    from opportunities as o
    inner join moments as m on o.lead_id = m.lead_id
    where o.is_won
        and coalesce(o.closed_at, o.created_at)
            <= {{ dbt.dateadd('day', 'm.outcome_window_days', 'm.horizon_at') }}
    group by m.lead_id
),

engagement as (
    select
        m.lead_id,
        {{ engagement_at('la', 'm.evaluated_at', 'r.recycles') }} as engagement_score,
        la.occurred_at as last_activity_at
    from moments as m
    cross join settings as s
    left join last_prior_activity as la on m.lead_id = la.lead_id
    left join recycles_before as r on m.lead_id = r.lead_id
),

scored as (
    select
        m.lead_id,
        m.created_at,
        m.is_excluded,
        m.horizon_at,
        m.evaluated_at,
        m.fit_score,
        e.engagement_score,
        {{ round_score('s.fit_weight * m.fit_score + s.engagement_weight * e.engagement_score') }} as lead_score,
        e.last_activity_at,
        m.sql_at,
        m.opportunity_at,
        m.sql_window_days,
        m.opportunity_window_days,
        coalesce(m.sql_at <= {{ dbt.dateadd('day', 'm.sql_window_days', 'm.horizon_at') }}, false)
            as converted_to_sql,
        coalesce(m.opportunity_at <= {{ dbt.dateadd('day', 'm.opportunity_window_days', 'm.horizon_at') }}, false)
            as converted_to_opportunity,
        m.customer_at,
        m.outcome,
        m.outcome_window_days,
        w.won_amount as won_amount_in_window
    from moments as m
    inner join engagement as e on m.lead_id = e.lead_id
    left join won_in_window as w on m.lead_id = w.lead_id
    cross join settings as s
),

reached as (
    select
        f.*,
        coalesce(
            case f.outcome
                when 'sql' then f.sql_at
                when 'opportunity' then f.opportunity_at
                else f.customer_at
            end <= {{ dbt.dateadd('day', 'f.outcome_window_days', 'f.horizon_at') }},
            false) as outcome_reached
    from scored as f
),

-- outcome_value weighs the lead in the calibration: 1 or 0, or the amount won.
final as (
    select
        *,
        case
            when not outcome_reached then 0
            when outcome = 'won_amount' then coalesce(won_amount_in_window, 0)
            else 1
        end as outcome_value
    from reached
)

select * from final
