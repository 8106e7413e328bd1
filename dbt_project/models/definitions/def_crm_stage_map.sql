{#- How the CRM's lifecycle stage values map to the stages of these definitions (for drift). -#}
{%- set ranks = {'lead': 1, 'mql': 2, 'sql': 3, 'opportunity': 4, 'customer': 5} -%}
{%- set rows = [] -%}
{%- for stage, values in funnel_definitions().drift.crm_stages.items() -%}
    {%- for value in values -%}
        {%- do rows.append([value, stage, ranks[stage]]) -%}
    {%- endfor -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('crm_stage', dbt.type_string()),
    ('stage', dbt.type_string()),
    ('stage_rank', dbt.type_int()),
]) }}
