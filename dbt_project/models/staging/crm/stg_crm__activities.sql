{#- Incremental on activity_id: only rows loaded since the last build are read (a row a later
    file replaced carries the later load time, so it replaces the staged one). -#}
{{ config(materialized='incremental', unique_key='activity_id', incremental_strategy='delete+insert') }}

with source as (
    select * from {{ source('raw', 'crm_activities') }}
),

renamed as (
    select
        activity_id,
        lead_id,
        occurred_at,
        {{ normalise_category('activity_type') }} as activity_type,
        {{ normalise_category('actor') }} as actor,
        {{ clean_text('detail') }} as detail,
        _loaded_at as loaded_at
    from source
    {{ loaded_since_last_build() }}
)

select * from renamed
