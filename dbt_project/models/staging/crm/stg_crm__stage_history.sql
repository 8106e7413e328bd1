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
)

select * from renamed
