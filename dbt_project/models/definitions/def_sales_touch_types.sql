{%- set rows = [] -%}
{%- for activity_type in funnel_definitions().sla.first_touch_activity_types -%}
    {%- do rows.append([activity_type]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [('activity_type', dbt.type_string())]) }}
