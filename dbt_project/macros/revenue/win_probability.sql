{#- Each lead of `scored` (lead_id, segment, channel_group, score_band) with its probability of
    a won deal, learned from the matured leads of `training` (the same columns and is_won):
    the win rate of its segment, channel and score band, pulled toward the rate of its
    segment and band, itself pulled toward the segment's, itself toward the overall rate -
    each as if `win_smoothing_leads` leads at the broader rate were added. A combination the
    history never saw takes the broader rate. `probability_basis` says which was used. -#}
{% macro win_probability(scored, training, settings='settings') -%}
win_overall as (
    select 1e0 * sum(case when is_won then 1 else 0 end) / nullif(count(*), 0) as rate
    from {{ training }}
),

win_segments as (
    select
        t.segment,
        (sum(case when t.is_won then 1 else 0 end) + max(st.win_smoothing_leads) * max(o.rate))
            / nullif(count(*) + max(st.win_smoothing_leads), 0) as rate
    from {{ training }} as t
    cross join win_overall as o
    cross join {{ settings }} as st
    group by t.segment
),

win_bands as (
    select
        t.segment,
        t.score_band,
        (sum(case when t.is_won then 1 else 0 end) + max(st.win_smoothing_leads) * max(g.rate))
            / nullif(count(*) + max(st.win_smoothing_leads), 0) as rate
    from {{ training }} as t
    inner join win_segments as g on t.segment = g.segment
    cross join {{ settings }} as st
    group by t.segment, t.score_band
),

win_channels as (
    select
        t.segment,
        t.channel_group,
        t.score_band,
        (sum(case when t.is_won then 1 else 0 end) + max(st.win_smoothing_leads) * max(b.rate))
            / nullif(count(*) + max(st.win_smoothing_leads), 0) as rate
    from {{ training }} as t
    inner join win_bands as b on t.segment = b.segment and t.score_band = b.score_band
    cross join {{ settings }} as st
    group by t.segment, t.channel_group, t.score_band
),

win_probabilities as (
    select
        s.lead_id,
        coalesce(c.rate, b.rate, g.rate, o.rate) as win_probability,
        case
            when c.rate is not null then 'segment, channel and score band'
            when b.rate is not null then 'segment and score band'
            when g.rate is not null then 'segment'
            else 'all leads'
        end as probability_basis,
        g.rate as segment_win_rate
    from {{ scored }} as s
    cross join win_overall as o
    left join win_segments as g on s.segment = g.segment
    left join win_bands as b on s.segment = b.segment and s.score_band = b.score_band
    left join win_channels as c
        on s.segment = c.segment and s.channel_group = c.channel_group
        and s.score_band = c.score_band
)
{%- endmacro %}

{#- The checks' view of `history` (int_win_history): `training` (matured, not held out),
    `holdout`, and the held-out leads' win_probabilities learned from training alone. -#}
{% macro held_out_win_probabilities(history='history') -%}
training as (
    select * from {{ history }} where is_matured and not is_holdout
),

holdout as (
    select * from {{ history }} where is_holdout
),

{{ win_probability('holdout', 'training') }}
{%- endmacro %}
