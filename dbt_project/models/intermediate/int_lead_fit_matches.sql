{#- One row per lead and fit rule it matches (each rule once), with the rule's points.
    Incremental by lead (macros/incremental.sql). -#}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_leads_to_rebuild() }}") }}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__activities') }}
-- depends_on: {{ ref('stg_crm__qualifications') }}

with fit_fields as (
    select * from {{ ref('int_lead_fit_fields') }}
    {%- if is_incremental() %}
    where lead_id in ({{ leads_to_rebuild() }})
    {%- endif %}
),

fit_rules as (
    select * from {{ ref('def_fit_rules') }}
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
