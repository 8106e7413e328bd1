{#- Ad performance per reporting week and campaign as the UTMs name it (utm_source,
    utm_medium, utm_campaign - what both the ad extracts and the leads carry) with its channel
    group: ad spend in the reporting currency, impressions and clicks from the ad extracts,
    and the leads of that campaign created in the week, with the MQLs and SQLs they reached
    that week (period counts, like fct_funnel_weekly). CTR, CPC and cost per lead, MQL and SQL
    are the row's own ratios - to aggregate, sum the measures and divide (the semantic layer
    does). A ratio with no denominator, or a cost with no spend recorded, is NULL. -#}
with spend as (
    select * from {{ ref('int_spend_daily') }}
    where spend_source = 'ad_platform' and not is_after_data_end
),

ads as (
    select * from {{ ref('stg_ads__spend') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

events as (
    select * from {{ ref('int_lead_funnel_events') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

campaign_spend as (
    select
        cast({{ dbt.date_trunc('week', 's.spend_date') }} as date) as week_start_date,
        s.utm_source,
        s.utm_medium,
        s.utm_campaign,
        min(s.channel_group) as channel_group,
        min(s.platform) as platform,
        min(s.campaign_name) as campaign_name,
        sum(s.spend_amount) as spend_amount,
        sum(a.impressions) as impressions,
        sum(a.clicks) as clicks
    from spend as s
    left join ads as a
        on s.spend_date = a.spend_date and s.platform = a.platform
        and s.campaign_id = a.campaign_id
    group by 1, 2, 3, 4
),

campaign_leads as (
    select l.utm_source, l.utm_medium, l.utm_campaign, l.channel_group,
           e.created_week, e.mql_week, e.sql_week
    from leads as l
    inner join events as e on l.lead_id = e.lead_id
    where l.utm_campaign is not null
),

-- each lead in the week it was created, became MQL, became SQL
lead_weeks as (
    select utm_source, utm_medium, utm_campaign, channel_group, created_week as week_start_date,
           1 as leads, 0 as mqls, 0 as sqls
    from campaign_leads
    union all
    select utm_source, utm_medium, utm_campaign, channel_group, mql_week, 0, 1, 0
    from campaign_leads where mql_week is not null
    union all
    select utm_source, utm_medium, utm_campaign, channel_group, sql_week, 0, 0, 1
    from campaign_leads where sql_week is not null
),

campaign_funnel as (
    select
        week_start_date, utm_source, utm_medium, utm_campaign,
        min(channel_group) as channel_group,
        sum(leads) as leads,
        sum(mqls) as mqls,
        sum(sqls) as sqls
    from lead_weeks
    group by 1, 2, 3, 4
),

-- UTM values compare NULL-safe: a campaign without a medium is still one campaign
joined as (
    select
        coalesce(s.week_start_date, f.week_start_date) as week_start_date,
        coalesce(s.utm_source, f.utm_source) as utm_source,
        coalesce(s.utm_medium, f.utm_medium) as utm_medium,
        coalesce(s.utm_campaign, f.utm_campaign) as utm_campaign,
        coalesce(s.channel_group, f.channel_group) as channel_group,
        s.platform,
        s.campaign_name,
        s.spend_amount,
        s.impressions,
        s.clicks,
        coalesce(f.leads, 0) as leads,
        coalesce(f.mqls, 0) as mqls,
        coalesce(f.sqls, 0) as sqls
    from campaign_spend as s
    full outer join campaign_funnel as f
        on s.week_start_date = f.week_start_date
        and s.utm_source is not distinct from f.utm_source
        and s.utm_medium is not distinct from f.utm_medium
        and s.utm_campaign is not distinct from f.utm_campaign
),

final as (
    select
        j.week_start_date,
        {{ iso_week_label('j.week_start_date') }} as iso_week,
        j.channel_group,
        j.utm_source,
        j.utm_medium,
        j.utm_campaign,
        j.platform,
        j.campaign_name,
        cast(j.spend_amount as {{ type_money() }}) as spend_amount,
        cast(j.impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(j.clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(j.leads as {{ dbt.type_bigint() }}) as leads,
        cast(j.mqls as {{ dbt.type_bigint() }}) as mqls,
        cast(j.sqls as {{ dbt.type_bigint() }}) as sqls,
        {{ safe_divide('1.0 * j.clicks', 'j.impressions') }} as click_through_rate,
        {{ money_per('j.spend_amount', 'j.clicks') }} as cost_per_click,
        {{ money_per('j.spend_amount', 'j.leads') }} as cost_per_lead,
        {{ money_per('j.spend_amount', 'j.mqls') }} as cost_per_mql,
        {{ money_per('j.spend_amount', 'j.sqls') }} as cost_per_sql,
        s.reporting_currency,
        s.definitions_version
    from joined as j
    cross join settings as s
)

select * from final
