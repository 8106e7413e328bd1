{{ config(materialized='view') }}
{#- The lead fields fit rules may test, in long form: one row per (lead, field). Shared by the
    fit score and by the scoring suggestions, so the list of fields is written once: the
    contract's attributes, then the export's own that the definitions declare
    (def_lead_attributes: read from the lead's extra columns). -#}
-- Not materialized: each field reads its own column instead of a spilled copy of every lead.
with leads as not materialized (
    select * from {{ ref('stg_crm__leads') }}
)

{{ unpivot_fields('leads', 'lead_id', [
    ('industry', 'industry'),
    ('employee_count', 'cast(employee_count as ' ~ dbt.type_string() ~ ')'),
    ('country_code', 'country_code'),
    ('department', 'department'),
    ('seniority', 'seniority'),
    ('job_title', 'job_title'),
    ('email_domain', 'email_domain'),
    ('company_domain', 'company_domain'),
    ('lead_source', 'lead_source'),
]) }}
union all
select
    l.lead_id,
    a.attribute as field_name,
    {{ json_text('l.extra_attributes', 'a.attribute') }} as field_value
from leads as l
cross join {{ ref('def_lead_attributes') }} as a
where l.extra_attributes is not null
