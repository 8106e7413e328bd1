{#- The export's own lead columns beside dim_leads, for BI: one row per lead and attribute
    (join on lead_id; pivot the attributes a dashboard needs). -#}
with attributes as (
    select * from {{ ref('int_lead_attributes') }}
),

declared as (
    select * from {{ ref('def_lead_attributes') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

final as (
    select
        a.lead_id,
        a.attribute,
        a.attribute_value,
        {{ number_or_null('a.attribute_value') }} as attribute_number,
        d.attribute is not null as is_declared,
        s.definitions_version
    from attributes as a
    cross join settings as s
    left join declared as d on a.attribute = d.attribute
)

select * from final
