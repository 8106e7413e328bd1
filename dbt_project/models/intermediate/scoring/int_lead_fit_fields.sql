{{ config(materialized='view') }}
{#- The lead fields fit rules may test, in long form: one row per (lead, field). Shared by the
    fit score and by the scoring suggestions, so the list of fields is written once: the
    contract's attributes, then the export's own that the definitions declare
    (def_lead_attributes: read from the lead's extra columns). Every lead has a row for every
    field, NULL when it has no value, so is_null rules see the leads without one. -#}
-- Not materialized: each field reads its own column instead of a spilled copy of every lead.
with leads as {{ inline_cte() }} (
    select * from {{ ref('stg_crm__leads') }}
)

{#- the contract's attributes (FIT_ATTRIBUTES, passed by the orchestration), as text -#}
{%- set fields = [] -%}
{%- for name in var('fit_attributes') -%}
    {%- do fields.append((name, 'cast(' ~ name ~ ' as ' ~ dbt.type_string() ~ ')')) -%}
{%- endfor -%}
{{ unpivot_fields('leads', 'lead_id', fields) }}
union all
select
    l.lead_id,
    a.attribute as field_name,
    {{ json_text('l.extra_attributes', 'a.attribute') }} as field_value
from leads as l
cross join {{ ref('def_lead_attributes') }} as a
