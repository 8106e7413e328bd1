{#- One row per segment of the definitions: its cohort windows in days (maturity_days, with a
    segment's own windows from maturity_days.by_segment). A lead of no listed segment
    (`unknown`) keeps the default windows of def_settings (macros/maturity.sql). -#}
{%- set m = funnel_definitions().maturity_days -%}
{%- set rows = [] -%}
{%- for s in funnel_definitions().segments -%}
    {%- set own = m.by_segment.get(s.name, {}) -%}
    {%- set row = [s.name] -%}
    {%- for t in ['mql_to_sql', 'sql_to_opportunity', 'opportunity_to_won', 'mql_to_customer'] -%}
        {%- do row.append(own.get(t) or m[t]) -%}
    {%- endfor -%}
    {%- do rows.append(row) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('segment', dbt.type_string()),
    ('mql_to_sql_days', dbt.type_int()),
    ('sql_to_opportunity_days', dbt.type_int()),
    ('opportunity_to_won_days', dbt.type_int()),
    ('mql_to_customer_days', dbt.type_int()),
]) }}
