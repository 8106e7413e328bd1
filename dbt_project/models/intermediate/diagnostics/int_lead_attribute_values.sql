{#- Every evaluated lead's value of every attribute the scoring suggestions weigh (SPEC §9):
    the contract's and declared attributes and the export's own columns no rule uses yet.
    Numeric attributes (every value a number, more than `numeric_min_distinct` of them) in
    quintile ranges; values of fewer than `calibration.min_evidence_leads` leads pooled as
    '(other)'; no value as '(missing)'. Read by int_scoring_attribute_evidence and by
    fct_scoring_suggestions (which pairs the values of two attributes per lead). A view on
    DuckDB, never written out; a table on Spark, which would compute it again for each reader
    (54 s and 68 s of the two readers at 1 M leads). -#}
{{ config(materialized=('table' if target.type == 'spark' else 'view')) }}
{%- set numeric_min_distinct = 10 -%}
{%- set bins = 5 -%}

with evaluation as (
    select lead_id, outcome_reached
    from {{ ref('int_scoring_evaluation') }}
    where evaluation_status = 'evaluated'
),

fit_fields as (
    select * from {{ ref('int_lead_fit_fields') }}
),

own_attributes as (
    select * from {{ ref('int_lead_attributes') }}
),

declared as (
    select * from {{ ref('def_lead_attributes') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- The export's own columns no definition declares yet: every evaluated lead gets a row, NULL
-- when it has no value (declared ones already have theirs in int_lead_fit_fields).
undeclared_names as (
    select distinct attribute from own_attributes
    where attribute not in (select attribute from declared)
),

attribute_values as (
    select e.lead_id, e.outcome_reached, f.field_name, f.field_value
    from evaluation as e
    inner join fit_fields as f on e.lead_id = f.lead_id
    union all
    select e.lead_id, e.outcome_reached, n.attribute, a.attribute_value
    from evaluation as e
    cross join undeclared_names as n
    left join own_attributes as a on e.lead_id = a.lead_id and n.attribute = a.attribute
),

typed as (
    select
        *,
        {{ number_or_null('field_value') }} as number_value
    from attribute_values
),

attribute_kinds as (
    select
        field_name,
        count(field_value) > 0
            and count(number_value) = count(field_value)
            and count(distinct number_value) > {{ numeric_min_distinct }} as is_numeric
    from typed
    group by field_name
),

-- Numeric attributes: quintiles of the leads with a value (ties share a quintile).
numeric_ranked as (
    select
        t.lead_id,
        t.field_name,
        t.number_value,
        floor({{ bins }} * (rank() over (partition by t.field_name order by t.number_value) - 1)
            / count(*) over (partition by t.field_name)) as bin
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name and k.is_numeric
    where t.number_value is not null
),

numeric_bins as (
    select
        field_name,
        bin,
        min(number_value) as range_min,
        max(number_value) as range_max
    from numeric_ranked
    group by field_name, bin
),

category_sizes as (
    select t.field_name, {{ normalise_category('t.field_value') }} as category, count(*) as leads
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name and not k.is_numeric
    group by t.field_name, {{ normalise_category('t.field_value') }}
),

valued as (
    select
        t.lead_id,
        t.outcome_reached,
        t.field_name,
        case
            when t.field_value is null or ({{ normalise_category('t.field_value') }} is null) then '(missing)'
            when k.is_numeric then cast(b.range_min as {{ dbt.type_string() }}) || ' to '
                || cast(b.range_max as {{ dbt.type_string() }})
            when c.leads < s.suggestion_min_evidence_leads then '(other)'
            else {{ normalise_category('t.field_value') }}
        end as field_value,
        case when k.is_numeric and t.number_value is not null then b.range_min end as range_min,
        case when k.is_numeric and t.number_value is not null then b.range_max end as range_max
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name
    cross join settings as s
    left join numeric_ranked as r
        on k.is_numeric and t.lead_id = r.lead_id and t.field_name = r.field_name
    left join numeric_bins as b on r.field_name = b.field_name and r.bin = b.bin
    left join category_sizes as c
        on not k.is_numeric and t.field_name = c.field_name
        and {{ normalise_category('t.field_value') }} = c.category
)

select * from valued
