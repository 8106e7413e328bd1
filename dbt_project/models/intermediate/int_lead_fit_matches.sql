{#- One row per lead and fit rule it matches (each rule once), with the rule's points. -#}
with leads as (
    select * from {{ ref('stg_crm__leads') }}
),

fit_rules as (
    select * from {{ ref('def_fit_rules') }}
),

fit_fields as (
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
),

fit_matches as (
    select distinct
        f.lead_id,
        r.rule_id,
        r.points
    from fit_fields as f
    inner join fit_rules as r
        on f.field_name = r.attribute
    where
        (r.match_type in ('equals', 'in')
            and {{ normalise_category('f.field_value') }} = {{ normalise_category('r.match_value') }})
        or (r.match_type = 'contains'
            and {{ dbt.position(normalise_category('r.match_value'), normalise_category('f.field_value')) }} > 0)
        or (r.match_type = 'range'
            and {{ dbt.safe_cast('f.field_value', dbt.type_float()) }} is not null
            and (r.min_value is null or {{ dbt.safe_cast('f.field_value', dbt.type_float()) }} >= r.min_value)
            and (r.max_value is null or {{ dbt.safe_cast('f.field_value', dbt.type_float()) }} <= r.max_value))
)

select * from fit_matches
