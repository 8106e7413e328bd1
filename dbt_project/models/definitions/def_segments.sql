{%- set rows = [] -%}
{%- for s in funnel_definitions().segments -%}
    {%- do rows.append([s.name, s.label, s.min_employees, s.max_employees, loop.index]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('segment', dbt.type_string()),
    ('segment_label', dbt.type_string()),
    ('min_employees', dbt.type_int()),
    ('max_employees', dbt.type_int()),
    ('sort_order', dbt.type_int()),
]) }}
