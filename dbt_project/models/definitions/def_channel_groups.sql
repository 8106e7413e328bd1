{%- set rows = [] -%}
{%- for group, mode in funnel_definitions().channels.groups.items() -%}
    {%- do rows.append([group, mode]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('channel_group', dbt.type_string()),
    ('acquisition_mode', dbt.type_string()),
]) }}
