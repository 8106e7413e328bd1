{#- The export's own lead columns - every column the extract contract does not name, kept by
    the loader in raw.crm_leads.extra - in long form: one row per lead and attribute that has
    a value, as text (as exported; a range rule reads it as a number). Read by
    dim_lead_attributes (BI) and by the scoring suggestions, which weigh every attribute,
    declared in the definitions or not. -#}
with leads as (
    select lead_id, extra_attributes from {{ ref('stg_crm__leads') }}
),

keyed as (
    {{ json_object_keys('leads', 'extra_attributes', ['lead_id', 'extra_attributes']) }}
),

final as (
    select
        lead_id,
        key as attribute,
        {{ clean_text(json_text('extra_attributes', 'key')) }} as attribute_value
    from keyed
)

select * from final
where attribute_value is not null
