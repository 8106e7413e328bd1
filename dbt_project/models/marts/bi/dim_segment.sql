{#- One row per segment code the facts carry - the definitions' segments, leads of no listed
    segment (`unknown`) and spend with no lead that week (`unassigned`) - with its label,
    size band or attribute, order and cohort windows. -#}
with labels as (
    select * from {{ ref('def_labels') }} where dimension = 'segment'
),

segments as (
    select * from {{ ref('def_segments') }}
),

windows as (
    select * from {{ ref('def_maturity_windows') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

final as (
    select
        l.code as segment,
        l.label as segment_label,
        l.sort_order,
        g.min_employees,
        g.max_employees,
        g.attribute as segment_attribute,
        {{ maturity_days('mql_to_sql') }} as mql_to_sql_days,
        {{ maturity_days('sql_to_opportunity') }} as sql_to_opportunity_days,
        {{ maturity_days('opportunity_to_won') }} as opportunity_to_won_days,
        {{ maturity_days('mql_to_customer') }} as mql_to_customer_days,
        s.definitions_version
    from labels as l
    cross join settings as s
    left join segments as g on l.code = g.segment
    left join windows as w on l.code = w.segment
)

select * from final
