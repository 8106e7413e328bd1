{#- The expected value of a won deal, from `won_deals` (segment, channel_group, won_amount):
    the segment's average won amount; a channel's own average pulled toward it as if
    `win_smoothing_deals` deals at the segment's average were added; all deals' average for a
    segment without any. CTEs deal_value_overall, deal_value_segments, deal_value_channels. -#}
{% macro deal_values(won_deals, settings='settings') -%}
deal_value_overall as (
    select avg(cast(won_amount as double)) as deal_value from {{ won_deals }}
),

deal_value_segments as (
    select segment, avg(cast(won_amount as double)) as deal_value from {{ won_deals }} group by segment
),

deal_value_channels as (
    select
        d.segment,
        d.channel_group,
        (sum(cast(d.won_amount as double)) + max(st.win_smoothing_deals) * max(g.deal_value))
            / (count(*) + max(st.win_smoothing_deals)) as deal_value
    from {{ won_deals }} as d
    inner join deal_value_segments as g on d.segment = g.segment
    cross join {{ settings }} as st
    group by d.segment, d.channel_group
)
{%- endmacro %}

{#- The deal value of a lead, once join_deal_values() has joined deal_values' CTEs. -#}
{% macro deal_value_of() -%}
    coalesce(dvc.deal_value, dvs.deal_value, dvo.deal_value)
{%- endmacro %}

{#- Joins deal_values' CTEs to the leads of `alias` (segment, channel_group). -#}
{% macro join_deal_values(alias) -%}
    cross join deal_value_overall as dvo
    left join deal_value_segments as dvs on {{ alias }}.segment = dvs.segment
    left join deal_value_channels as dvc
        on {{ alias }}.segment = dvc.segment and {{ alias }}.channel_group = dvc.channel_group
{%- endmacro %}
