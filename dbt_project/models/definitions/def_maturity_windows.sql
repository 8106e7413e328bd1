{#- One row per segment of the definitions: its cohort windows in days (maturity_days, with a
    segment's own windows from maturity_days.by_segment). A lead of no listed segment
    (`unknown`) keeps the default windows of def_settings (macros/maturity.sql). -#}
{%- set m = funnel_definitions().maturity_days -%}
{%- set transitions = [] -%}
{%- for t in m if t != 'by_segment' -%}{%- do transitions.append(t) -%}{%- endfor -%}
{%- set rows = [] -%}
{%- for s in funnel_definitions().segments -%}
    {%- set own = m.by_segment.get(s.name, {}) -%}
    {%- set row = [s.name] -%}
    {%- for t in transitions -%}
        {%- do row.append(own.get(t) or m[t]) -%}
    {%- endfor -%}
    {%- do rows.append(row) -%}
{%- endfor -%}
{%- set columns = [('segment', dbt.type_string())] -%}
{%- for t in transitions -%}{%- do columns.append((t ~ '_days', dbt.type_int())) -%}{%- endfor -%}

{{ rows_as_relation(rows, columns) }}
