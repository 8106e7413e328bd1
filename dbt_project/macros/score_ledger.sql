{#- The score ledger (SPEC §6), in two parts: int_score_ledger_items holds the rows fixed once
    built (every row at each MQL), and the fct_score_ledger view adds the current moment's
    rows, read from the scoring pass's tables and decayed to the scoring moment when queried,
    with their clamp and rounding rows. These macros are what both parts, and the worklist's
    reasons, share. -#}

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

{#- The fit and engagement rows of a ledger moment: each fit rule the lead matches, and the
    activities with points of the moment's engagement episode, decayed to the moment.
    `moments` has lead_id, moment, scored_at, explains_engagement and score_episode (and, with
    `up_to_mql_activity`, mql_activity_id: an MQL moment counts the activities up to and
    including the one that made the MQL). `fit_matches` and `activities` default to the
    scoring pass's tables; a by-lead model passes them restricted to its rebuilt leads.
    fct_score_ledger reads every lead's current rows through it, fct_sales_worklist only its
    own leads' (so its join touches the scored activities of those leads alone). -#}
{% macro ledger_rule_rows(moments, settings, fit_matches=none, activities=none,
                          up_to_mql_activity=false) -%}
    select
        r.lead_id, m.moment, m.scored_at, 'fit' as component, r.rule_id,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(r.points as double) as raw_points, r.points as counted_points, 1.0 as decay_factor,
        r.points as points, r.points * s.fit_weight as weighted_points
    from {{ fit_matches or ref('int_lead_fit_matches') }} as r
    inner join {{ moments }} as m on r.lead_id = m.lead_id
    cross join {{ settings }} as s
    union all
    select
        a.lead_id, m.moment, m.scored_at, 'engagement', a.activity_type, a.activity_id,
        a.occurred_at, cast(a.rule_points as double), a.counted_points,
        {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }} * s.engagement_weight
    -- one join: at 10 M leads a second one (the episode apart) made the worklist's read spill
    from {{ activities or ref('int_activities_scored') }} as a
    inner join {{ moments }} as m
        on a.lead_id = m.lead_id and a.score_episode = m.score_episode
    cross join {{ settings }} as s
    where a.rule_points <> 0 and m.explains_engagement
    {%- if up_to_mql_activity %}
        and (a.occurred_at < m.scored_at
             or (a.occurred_at = m.scored_at and a.activity_id <= m.mql_activity_id))
    {%- endif %}
{%- endmacro %}
