{#- What sales acts on: every open lead (not a customer, not disqualified or excluded) with its
    probability of a won deal within `revenue.win_horizon_days` (learned from all matured
    history by segment, channel and score band: macros/revenue/win_probability.sql; checked in
    fct_win_probability_check), its expected deal value (the average won amount of its
    segment, a channel's own average pulled toward it by `revenue.smoothing_deals` deals) and
    the expected revenue, probability x value. The lead score is the current one
    (int_lead_scores_current): the probability of a band is learned from scores at the
    evaluation moment. -#}
with history as (
    select * from {{ ref('int_win_history') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

scores as (
    select * from {{ ref('int_lead_scores_current') }}
),

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

training as (
    select * from history where is_matured
),

open_leads as (
    select
        l.lead_id,
        l.acquisition_mode,
        l.segment,
        l.channel_group,
        l.owner_id,
        lc.current_stage,
        sc.lead_score,
        floor(sc.lead_score / s.win_score_band_width) as score_band
    from leads as l
    inner join lifecycle as lc on l.lead_id = lc.lead_id
    inner join scores as sc on l.lead_id = sc.lead_id
    cross join settings as s
    where not l.is_excluded and lc.current_stage not in ('customer', 'disqualified')
),

{{ win_probability('open_leads', 'training') }},

won_deals as (
    select segment, channel_group, won_amount
    from opportunities
    where is_won and won_amount is not null
),

{{ deal_values('won_deals') }},

final as (
    select
        o.lead_id,
        o.acquisition_mode,
        o.segment,
        o.channel_group,
        o.owner_id,
        o.current_stage,
        o.lead_score,
        cast(o.score_band as {{ dbt.type_int() }}) as score_band,
        p.win_probability,
        p.probability_basis,
        {{ to_money(deal_value_of()) }} as expected_deal_value,
        {{ to_money('p.win_probability * ' ~ deal_value_of()) }} as expected_revenue,
        s.win_horizon_days,
        s.reporting_currency,
        s.definitions_version
    from open_leads as o
    inner join win_probabilities as p on o.lead_id = p.lead_id
    cross join settings as s
    {{ join_deal_values('o') }}
)

select * from final
