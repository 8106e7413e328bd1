{#- The score ledger (SPEC §6), in two parts: int_score_ledger_items holds the rows fixed once
    built (every row at an MQL; the fit rules and activities behind each current score), and
    the fct_score_ledger view adds what moves with the scoring moment (decay to now, clamp and
    rounding rows). These macros are what both parts share. -#}

{#- The ledger's columns, in order. -#}
{% macro ledger_columns() -%}
    lead_id, moment, scored_at, component, rule_id, activity_id, occurred_at, raw_points,
    counted_points, decay_factor, points, weighted_points
{%- endmacro %}

{#- How much of an activity's points is left at `scored_at` (half-life decay). -#}
{% macro ledger_decay_factor(occurred_at, scored_at, settings='s') -%}
    power(0.5, {{ dbt.datediff(occurred_at, scored_at, 'second') }} / 86400.0 / {{ settings }}.half_life_days)
{%- endmacro %}

{#- Clamping to 0..100 and the rounding of the lead score, made visible as rows: each score
    minus what its rows add up to before the clamp (`fit_points`, `engagement_raw`).
    `moments` has lead_id, moment, scored_at, explains_engagement, fit_score, fit_points,
    engagement_score, engagement_raw and lead_score; `settings` is def_settings. -#}
{% macro ledger_adjustment_rows(moments, settings) -%}
    {%- set no_string = 'cast(null as ' ~ dbt.type_string() ~ ')' -%}
    {%- set no_time = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set no_number = 'cast(null as double)' -%}
    select lead_id, moment, scored_at, component, rule_id,
           {{ no_string }} as activity_id, {{ no_time }} as occurred_at,
           {{ no_number }} as raw_points, {{ no_number }} as counted_points,
           {{ no_number }} as decay_factor, points, weighted_points
    from (
        select m.lead_id, m.moment, m.scored_at, 'fit' as component, 'clamp_0_100' as rule_id,
               m.fit_score - coalesce(m.fit_points, 0) as points,
               (m.fit_score - coalesce(m.fit_points, 0)) * s.fit_weight as weighted_points
        from {{ moments }} as m
        cross join {{ settings }} as s
        union all
        select m.lead_id, m.moment, m.scored_at, 'engagement', 'clamp_0_100',
               m.engagement_score - m.engagement_raw,
               (m.engagement_score - m.engagement_raw) * s.engagement_weight
        from {{ moments }} as m
        cross join {{ settings }} as s
        where m.explains_engagement
        union all
        select m.lead_id, m.moment, m.scored_at, 'rounding', 'round_lead_score', {{ no_number }},
               m.lead_score - (s.fit_weight * m.fit_score + s.engagement_weight * m.engagement_score)
        from {{ moments }} as m
        cross join {{ settings }} as s
    ) as adjustments
    where abs(coalesce(points, weighted_points)) > 1e-9
{%- endmacro %}
