with source as (
    select * from {{ source('raw', 'sdr_costs') }}
),

renamed as (
    select
        month as cost_month,
        {{ normalise_category('team') }} as team,
        cost as cost_amount,
        upper({{ clean_text('currency') }}) as currency,
        _loaded_at as loaded_at
    from source
)

select * from renamed
