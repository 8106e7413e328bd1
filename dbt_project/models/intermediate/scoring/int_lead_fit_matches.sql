{#- One row per lead and fit rule it matches (each rule once), with the rule's points.
    Incremental by lead (macros/by_lead_incremental.sql). -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

-- A full build reads the fields once per kind of rule instead of spilling a copy of them.
fit_fields as {% if not is_incremental() %}{{ inline_cte() }} {% endif %}(
    select
        lead_id,
        field_name,
        field_value,
        {{ normalise_category('field_value') }} as normalised_value
    from {{ ref('int_lead_fit_fields') }}
    {{- of_rebuilt_leads() }}
),

-- Distinct, so 'in' values that normalise alike match once: each lead then matches each
-- rule at most once (one value per field), with no distinct over every match.
fit_rules as (
    select distinct
        rule_id,
        attribute,
        match_type,
        {{ normalise_category('match_value') }} as normalised_match,
        min_value,
        max_value,
        points
    from {{ ref('def_fit_rules') }}
),

-- Regular expressions test the value as written (their case is theirs).
regex_rules as (
    select distinct rule_id, attribute, match_value, points
    from {{ ref('def_fit_rules') }}
    where match_type = 'regex'
),

-- Equality rules are a hash join on the normalised value; only substring and range rules are
-- tested against every value of their field (most rules are equalities: at 1 M leads, testing
-- every rule against every value was most of this model's time).
fit_matches as (
    select
        lead_id,
        rule_id,
        points
    from (
        select f.lead_id, r.rule_id, r.points
        from fit_fields as f
        inner join fit_rules as r
            on f.field_name = r.attribute
            and f.normalised_value = r.normalised_match
        where r.match_type in ('equals', 'in')
        union all
        select f.lead_id, r.rule_id, r.points
        from fit_fields as f
        inner join fit_rules as r
            on f.field_name = r.attribute
        where
            (r.match_type = 'contains'
                and {{ dbt.position('r.normalised_match', 'f.normalised_value') }} > 0)
            or (r.match_type = 'prefix'
                and {{ dbt.position('r.normalised_match', 'f.normalised_value') }} = 1)
            or (r.match_type = 'is_null' and f.normalised_value is null)
            or (r.match_type = 'not_null' and f.normalised_value is not null)
            or (r.match_type = 'range'
                and {{ number_or_null('f.field_value') }} is not null
                and (r.min_value is null or {{ number_or_null('f.field_value') }} >= r.min_value)
                and (r.max_value is null or {{ number_or_null('f.field_value') }} <= r.max_value))
        union all
        select f.lead_id, r.rule_id, r.points
        from fit_fields as f
        inner join regex_rules as r
            on f.field_name = r.attribute
            and {{ regex_matches('f.field_value', 'r.match_value') }}
    ) as matched
)

select * from fit_matches
