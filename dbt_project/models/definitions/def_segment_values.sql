{#- The values of the segments defined on a lead attribute: one row per segment and value. -#}
{%- set rows = [] -%}
{%- for s in funnel_definitions().segments if s.attribute -%}
    {%- for value in s["values"] -%}
        {%- do rows.append([s.name, s.attribute, value]) -%}
    {%- endfor -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('segment', dbt.type_string()),
    ('attribute', dbt.type_string()),
    ('match_value', dbt.type_string()),
]) }}
