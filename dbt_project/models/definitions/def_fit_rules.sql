{#- One row per fit rule and accepted value ('in' rules have one row per value). -#}
{%- set rows = [] -%}
{%- for rule in funnel_definitions().fit_rules -%}
    {%- for value in (rule['values'] or [none]) -%}
        {%- do rows.append([rule.id, rule.attribute, rule.match, value, rule.min, rule.max, rule.points]) -%}
    {%- endfor -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('rule_id', dbt.type_string()),
    ('attribute', dbt.type_string()),
    ('match_type', dbt.type_string()),
    ('match_value', dbt.type_string()),
    ('min_value', dbt.type_float()),
    ('max_value', dbt.type_float()),
    ('points', dbt.type_float()),
]) }}
