{#- One row per lead and fit rule it matches (each rule once), with the rule's points. -#}
with leads as (
    select * from {{ ref('stg_crm__leads') }}
),

fit_rules as (
    select * from {{ ref('def_fit_rules') }}
),

fit_fields as (
    select lead_id, 'industry' as attribute, industry as field_value, cast(null as {{ dbt.type_float() }}) as numeric_value from leads
    union all
    select lead_id, 'employee_count', cast(employee_count as {{ dbt.type_string() }}), cast(employee_count as {{ dbt.type_float() }}) from leads
    union all
    select lead_id, 'country_code', country_code, null from leads
    union all
    select lead_id, 'department', department, null from leads
    union all
    select lead_id, 'seniority', seniority, null from leads
    union all
    select lead_id, 'job_title', job_title, null from leads
    union all
    select lead_id, 'email_domain', email_domain, null from leads
    union all
    select lead_id, 'company_domain', company_domain, null from leads
    union all
    select lead_id, 'lead_source', lead_source, null from leads
),

fit_matches as (
    select distinct
        f.lead_id,
        r.rule_id,
        r.points
    from fit_fields as f
    inner join fit_rules as r
        on f.attribute = r.attribute
    where
        (r.match_type in ('equals', 'in')
            and {{ normalise_category('f.field_value') }} = {{ normalise_category('r.match_value') }})
        or (r.match_type = 'contains'
            and {{ dbt.position(normalise_category('r.match_value'), normalise_category('f.field_value')) }} > 0)
        or (r.match_type = 'range'
            and f.numeric_value is not null
            and (r.min_value is null or f.numeric_value >= r.min_value)
            and (r.max_value is null or f.numeric_value <= r.max_value))
)

select * from fit_matches
