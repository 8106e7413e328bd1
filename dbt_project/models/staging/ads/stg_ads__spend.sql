with source as (
    select * from {{ source('raw', 'ad_spend') }}
),

renamed as (
    select
        spend_date,
        {{ normalise_category('platform') }} as platform,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('campaign_name') }} as campaign_name,
        spend as spend_amount,
        upper({{ clean_text('currency') }}) as currency,
        lower({{ clean_text('utm_source') }}) as utm_source,
        lower({{ clean_text('utm_medium') }}) as utm_medium,
        lower({{ clean_text('utm_campaign') }}) as utm_campaign,
        impressions,
        clicks,
        _loaded_at as loaded_at
    from source
)

select * from renamed
