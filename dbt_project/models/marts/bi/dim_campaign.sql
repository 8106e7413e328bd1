{#- One row per campaign as the UTMs name it (fct_ad_performance_weekly's key): its channel
    group, ad platform and name, and when it first and last spent or brought a lead. -#}
with performance as (
    select * from {{ ref('fct_ad_performance_weekly') }}
),

settings_in_force as (
    select definitions_version from {{ ref('def_settings') }}
),

final as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        min(channel_group) as channel_group,
        min(platform) as platform,
        min(campaign_name) as campaign_name,
        min(week_start_date) as first_week_start_date,
        max(week_start_date) as last_week_start_date,
        max(spend_amount) is not null as has_spend,
        v.definitions_version
    from performance
    cross join settings_in_force as v
    group by v.definitions_version, utm_source, utm_medium, utm_campaign
)

select * from final
