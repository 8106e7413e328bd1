{#- Incremental on the key: only rows loaded since the last build are read (a newer version
    of a stage entry carries the later load time, so it replaces the staged one). -#}
{{ config(materialized=incremental_if_supported(), unique_key=var('extract_keys')['crm_stage_history'], incremental_strategy='delete+insert') }}

with source as (
    select * from {{ source('raw', 'crm_stage_history') }}
),

renamed as (
    select
        lead_id,
        {{ normalise_category('stage') }} as stage,
        entered_at,
        _loaded_at as loaded_at
    from source
    {{ loaded_since_last_build() }}
)

select * from renamed
