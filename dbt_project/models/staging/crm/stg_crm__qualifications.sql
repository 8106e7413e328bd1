{#- Incremental on the key: only rows loaded since the last build are read (a newer version
    of a qualification carries the later load time, so it replaces the staged one). -#}
{{ config(materialized=incremental_if_supported(), unique_key=var('extract_keys')['crm_qualifications'], incremental_strategy='delete+insert') }}

with source as (
    select * from {{ source('raw', 'crm_qualifications') }}
),

renamed as (
    select
        qualification_id,
        lead_id,
        qualified_at,
        {{ normalise_category('outcome') }} as outcome,
        has_need,
        has_budget,
        has_authority,
        has_timing,
        next_step_at,
        {{ clean_text('reason') }} as reason,
        {{ clean_text('rep_id') }} as rep_id,
        _loaded_at as loaded_at
    from source
    {{ loaded_since_last_build() }}
)

select * from renamed
