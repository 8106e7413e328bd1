{#- The display name of every code a user sees grouped by: segments, channel groups (and the
    group of unattributed spend), acquisition modes. Reports and BI show these, never codes. -#}
{%- set d = funnel_definitions() -%}
{%- set rows = [] -%}
{%- for s in d.segments -%}
    {%- do rows.append(['segment', s.name, s.label, loop.index]) -%}
{%- endfor -%}
{%- do rows.append(['segment', 'unknown', 'Size unknown', 90]) -%}
{%- do rows.append(['segment', 'unassigned', 'No lead that week', 99]) -%}
{%- for group, label in d.channels.labels.items() -%}
    {%- do rows.append(['channel_group', group, label, loop.index]) -%}
{%- endfor -%}
{%- do rows.append(['acquisition_mode', 'inbound', 'Inbound', 1]) -%}
{%- do rows.append(['acquisition_mode', 'outbound', 'Outbound', 2]) -%}
{%- do rows.append(['acquisition_mode', 'unknown', 'Mode unknown', 3]) -%}

{{ rows_as_relation(rows, [
    ('dimension', dbt.type_string()),
    ('code', dbt.type_string()),
    ('label', dbt.type_string()),
    ('sort_order', dbt.type_int()),
]) }}
