{#- One row per lead attribute of the export's own (lead_attributes: columns `funnel import`
    carried, kept in raw.crm_leads.extra) that fit rules may test. -#}
{%- set rows = [] -%}
{%- for name in funnel_definitions().lead_attributes -%}
    {%- do rows.append([name]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [('attribute', dbt.type_string())]) }}
