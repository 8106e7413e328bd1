{#- Is the win probability right? It is learned again without the held-out leads (the latest
    `revenue.holdout_weeks` weeks of matured history) and applied to them: per creation
    month and probability band (tenths), the leads, the wins predicted (sum of
    probabilities) and realized, and the squared errors - of the probability and of the
    segment's rate alone - whose means are the Brier scores. Every row also carries the
    held-out totals. -#}
with history as (
    select * from {{ ref('int_win_history') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

{{ held_out_win_probabilities() }},

scored as (
    select
        h.lead_id,
        cast({{ dbt.date_trunc('month', 'h.created_week_start_date') }} as date) as cohort_month,
        least(floor(p.win_probability * 10), 9) as probability_band,
        p.win_probability,
        p.segment_win_rate,
        case when h.is_won then 1 else 0 end as won
    from holdout as h
    inner join win_probabilities as p on h.lead_id = p.lead_id
),

grouped as (
    select
        cohort_month,
        cast(probability_band as {{ dbt.type_int() }}) as probability_band,
        count(*) as leads,
        {{ stable_double('sum(win_probability)') }} as predicted_wins,
        cast(sum(won) as {{ dbt.type_bigint() }}) as realized_wins,
        {{ stable_double('sum((win_probability - won) * (win_probability - won))') }} as squared_error,
        {{ stable_double('sum((segment_win_rate - won) * (segment_win_rate - won))') }}
            as base_squared_error
    from scored
    group by cohort_month, probability_band
),

final as (
    select
        g.cohort_month,
        g.probability_band,
        cast(g.probability_band as {{ dbt.type_float() }}) / 10 as probability_from,
        cast(g.probability_band + 1 as {{ dbt.type_float() }}) / 10 as probability_to,
        g.leads,
        g.predicted_wins,
        g.realized_wins,
        g.squared_error,
        g.base_squared_error,
        {{ safe_divide('g.squared_error', 'g.leads') }} as brier_score,
        {{ safe_divide('g.base_squared_error', 'g.leads') }} as base_brier_score,
        cast(sum(g.leads) over () as {{ dbt.type_bigint() }}) as holdout_leads,
        {{ stable_double('sum(g.predicted_wins) over ()', 8) }} as holdout_predicted_wins,
        cast(sum(g.realized_wins) over () as {{ dbt.type_bigint() }}) as holdout_realized_wins,
        {{ stable_double(safe_divide('sum(g.squared_error) over ()', 'sum(g.leads) over ()')) }}
            as holdout_brier_score,
        {{ stable_double(safe_divide('sum(g.base_squared_error) over ()', 'sum(g.leads) over ()')) }}
            as holdout_base_brier_score,
        s.win_horizon_days,
        s.win_holdout_weeks as holdout_weeks,
        s.definitions_version
    from grouped as g
    cross join settings as s
)

select * from final
