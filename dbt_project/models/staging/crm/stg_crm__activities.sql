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
)

select * from renamed
