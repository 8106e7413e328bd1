{#- One row per segment: an employee_count band, or a lead attribute whose values are listed
    in def_segment_values. A lead is in the first segment (sort_order) it matches. -#}
{%- set rows = [] -%}
{%- for s in funnel_definitions().segments -%}
    {%- do rows.append([s.name, s.label, s.min_employees, s.max_employees, loop.index, s.attribute]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('segment', dbt.type_string()),
    ('segment_label', dbt.type_string()),
    ('min_employees', dbt.type_int()),
    ('max_employees', dbt.type_int()),
    ('sort_order', dbt.type_int()),
    ('attribute', dbt.type_string()),
]) }}
