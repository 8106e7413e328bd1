{#- One row per scored activity type; fast-track types are listed even without points. -#}
{%- set engagement = funnel_definitions().engagement -%}
{%- set rows = [] -%}
{%- set typed = [] -%}
{%- for rule in engagement.rules -%}
    {%- do rows.append([rule.activity_type, rule.points, rule.per_unit, rule.cap, rule.activity_type in engagement.fast_track]) -%}
    {%- do typed.append(rule.activity_type) -%}
{%- endfor -%}
{%- for activity_type in engagement.fast_track if activity_type not in typed -%}
    {%- do rows.append([activity_type, 0, false, none, true]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('activity_type', dbt.type_string()),
    ('points', dbt.type_float()),
    ('is_per_unit', dbt.type_boolean()),
    ('cap_points', dbt.type_float()),
    ('is_fast_track', dbt.type_boolean()),
]) }}
