with source as (
    select * from {{ source('raw', 'fx_rates') }}
),

renamed as (
    select
        rate_date,
        upper({{ clean_text('currency') }}) as currency,
        rate_to_reporting,
        _loaded_at as loaded_at
    from source
)

select * from renamed
