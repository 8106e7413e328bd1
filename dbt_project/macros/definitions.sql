{#- The business definitions (dbt_project/definitions/funnel.yml) arrive as the var `funnel`,
    validated by orchestration/funnel_definitions.py. Only models/definitions/ read it; every
    other model joins the def_* tables, so one file decides every number. -#}
{% macro funnel_definitions() %}
    {%- set definitions = var('funnel', none) -%}
    {%- if definitions is none -%}
        {{ exceptions.raise_compiler_error(
            "The definitions file was not passed to dbt. Run dbt through `funnel dbt ...` "
            ~ "(or the Dagster assets), which pass dbt_project/definitions/funnel.yml as --vars."
        ) }}
    {%- endif -%}
    {{ return(definitions) }}
{% endmacro %}

{#- A literal for a Python/JSON value in SQL. -#}
{% macro sql_literal(value) -%}
    {%- if value is none -%}null
    {%- elif value is sameas true -%}true
    {%- elif value is sameas false -%}false
    {%- elif value is number -%}{{ value }}
    {%- else -%}'{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- Rows given in Jinja as a typed relation, with portable SQL (no VALUES lists, which
    some warehouses lack). columns: list of (name, type). -#}
{% macro rows_as_relation(rows, columns) -%}
    {%- if rows | length == 0 -%}
        select
        {%- for name, type in columns %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0
    {%- else -%}
        {%- for row in rows %}
        select
            {%- for name, type in columns %}
            cast({{ sql_literal(row[loop.index0]) }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{#- Scores live in 0..100 (SPEC §6); the score ledger shows the clamp as its own row. -#}
{% macro clamp_score(expression) -%}
    least(100, greatest(0, {{ expression }}))
{%- endmacro %}

{#- Scores are non-negative: round half up, the same on every engine. -#}
{% macro round_score(expression) -%}
    floor(({{ expression }}) + 0.5)
{%- endmacro %}

{#- Whether a scored activity may make its lead an MQL, whatever the threshold (SPEC §5, §7):
    inbound, not excluded, at or after the lead's creation, not in an episode a disqualifying
    rejection closed, and - in an episode a recycle or a nurtured rejection opened - only
    after the return wait and with the return engagement. In three parts, so that the scoring
    pass's sorts carry two small columns instead of the five the rule reads: the lead's part
    and the episode's gate are known before the engagement is. -#}
{% macro lead_may_become_mql(acquisition_mode, is_excluded, occurred_at, created_at) -%}
    ({{ acquisition_mode }} = 'inbound' and not {{ is_excluded }} and {{ occurred_at }} >= {{ created_at }})
{%- endmacro %}

{#- 0: no MQL in this episode at this moment (closed, or before the return wait); 1: the
    episode lets the lead become an MQL; 2: so does it, with the return engagement. -#}
{% macro episode_mql_gate(is_closed_episode, episode_opened_at, occurred_at, return_after_days) -%}
    case
        when {{ is_closed_episode }} then 0
        when {{ episode_opened_at }} is null then 1
        when {{ occurred_at }} >= {{ dbt.dateadd('day', return_after_days, episode_opened_at) }} then 2
        else 0
    end
{%- endmacro %}

{% macro may_become_mql(is_lead_eligible, episode_mql_gate, engagement_score, return_min_engagement) -%}
    ({{ is_lead_eligible }}
        and ({{ episode_mql_gate }} = 1
            or ({{ episode_mql_gate }} = 2 and {{ engagement_score }} >= {{ return_min_engagement }})))
{%- endmacro %}

{#- The MQL rule on a lead's fit and engagement at a moment (SPEC §5): enough fit, and a lead
    score at the threshold or a fast-track activity. One definition for the lifecycle and
    for the threshold backtest that replays it with other parameters. -#}
{% macro meets_mql_rule(fit, engagement, is_fast_track, threshold, min_fit, fit_weight, engagement_weight) -%}
    ({{ fit }} >= {{ min_fit }}
        and ({{ round_score(fit_weight ~ ' * ' ~ fit ~ ' + ' ~ engagement_weight ~ ' * ' ~ engagement) }} >= {{ threshold }}
            or {{ is_fast_track }}))
{%- endmacro %}

{#- A lead's engagement at `moment` from its last prospect activity before it (alias `last`,
    a row of int_activities_scored; NULL when none) - the running decayed sum carried to the
    moment (SPEC §6), zero when a recycle since then reset it. `settings` is def_settings.
    engagement_raw_at is the sum before the 0-100 clamp (the score ledger shows the clamp). -#}
{% macro engagement_at(last, moment, recycles_before_moment, settings='s') -%}
    {{ clamp_score(engagement_raw_at(last, moment, recycles_before_moment, settings)) }}
{%- endmacro %}

{% macro engagement_raw_at(last, moment, recycles_before_moment, settings='s') -%}
    case
        when {{ last }}.lead_id is null then 0
        when {{ settings }}.recycle_resets_engagement
            and {{ last }}.episode < coalesce({{ recycles_before_moment }}, 0) then 0
        else {{ last }}.decayed_sum_at_origin
            * power(0.5, {{ dbt.datediff(last ~ '.episode_origin_at', moment, 'second') }}
                / 86400.0 / {{ settings }}.half_life_days)
    end
{%- endmacro %}
