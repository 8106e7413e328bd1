{#- Incremental on the key: only rows loaded since the last build are read (a newer version
    of an opportunity carries the later load time, so it replaces the staged one). -#}
{{ config(materialized=incremental_if_supported(), unique_key=var('extract_keys')['crm_opportunities'], incremental_strategy='delete+insert') }}

with source as (
    select * from {{ source('raw', 'crm_opportunities') }}
),

renamed as (
    select
        opportunity_id,
        lead_id,
        created_at,
        {{ normalise_category('stage') }} as stage,
        amount,
        upper({{ clean_text('currency') }}) as currency,
        coalesce(is_closed, false) as is_closed,
        coalesce(is_won, false) as is_won,
        closed_at,
        {{ clean_text('lost_reason') }} as lost_reason,
        coalesce(updated_at, created_at) as updated_at,
        _loaded_at as loaded_at
    from source
    {{ loaded_since_last_build() }}
)

select * from renamed
