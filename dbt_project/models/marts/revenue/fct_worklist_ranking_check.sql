{#- Does ranking by expected revenue put the money on top? On the held-out leads of
    fct_win_probability_check (never learned from), the top tenth ranked by expected revenue
    (probability x deal value, both learned without them) against the top tenth ranked by lead
    score: the share of the amount they went on to win within the horizon that each holds. -#}
with history as (
    select * from {{ ref('int_win_history') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

{{ held_out_win_probabilities() }},

won_deals as (
    select o.segment, o.channel_group, o.won_amount
    from opportunities as o
    inner join training as t on o.lead_id = t.lead_id
    where o.is_won and o.won_amount is not null
),

{{ deal_values('won_deals') }},

valued as (
    select
        h.lead_id,
        h.lead_score,
        h.won_amount,
        p.win_probability * {{ deal_value_of() }} as expected_revenue
    from holdout as h
    inner join win_probabilities as p on h.lead_id = p.lead_id
    {{ join_deal_values('h') }}
),

ranked as (
    select
        *,
        ntile(10) over (order by expected_revenue desc, lead_id) as revenue_decile,
        ntile(10) over (order by lead_score desc, lead_id) as score_decile
    from valued
),

totals as (
    select count(*) as holdout_leads, sum(won_amount) as holdout_won_amount from ranked
),

top_deciles as (
    select 'expected_revenue' as ranked_by, lead_id, won_amount from ranked where revenue_decile = 1
    union all
    select 'lead_score', lead_id, won_amount from ranked where score_decile = 1
),

final as (
    select
        d.ranked_by,
        count(*) as top_decile_leads,
        {{ to_money('sum(d.won_amount)') }} as top_decile_won_amount,
        {{ safe_divide('1.0 * sum(d.won_amount)', 'max(t.holdout_won_amount)') }} as won_share,
        max(t.holdout_leads) as holdout_leads,
        {{ to_money('max(t.holdout_won_amount)') }} as holdout_won_amount,
        max(s.reporting_currency) as reporting_currency,
        max(s.definitions_version) as definitions_version
    from top_deciles as d
    cross join totals as t
    cross join settings as s
    group by d.ranked_by
)

select * from final
