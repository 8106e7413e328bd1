{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_daily'}}}) }}
{#- Spend survives to the cent: raw ad spend and SDR cost (in their own currencies) equal
    fct_spend_daily's, and fct_spend_daily's reporting-currency total up to the data's
    cut-off equals the weekly funnel's (exactly: money is fixed-scale). -#}
with raw_ads as (
    select currency, sum(spend) as amount from {{ source('raw', 'ad_spend') }} group by currency
),

raw_sdr as (
    select currency, sum(cost) as amount from {{ source('raw', 'sdr_costs') }} group by currency
),

mart_ads as (
    select currency, sum(spend_amount_original) as amount
    from {{ ref('fct_spend_daily') }} where spend_source = 'ad_platform' group by currency
),

mart_sdr as (
    select currency, sum(spend_amount_original) as amount
    from {{ ref('fct_spend_daily') }} where spend_source = 'sdr_team' group by currency
),

by_currency as (
    select 'ad_platform' as source, coalesce(r.currency, m.currency) as currency,
           coalesce(r.amount, 0) as raw_amount, coalesce(m.amount, 0) as mart_amount
    from raw_ads as r full outer join mart_ads as m on r.currency = m.currency
    union all
    select 'sdr_team', coalesce(r.currency, m.currency),
           coalesce(r.amount, 0), coalesce(m.amount, 0)
    from raw_sdr as r full outer join mart_sdr as m on r.currency = m.currency
),

reporting as (
    select
        'reporting_currency' as source,
        'all' as currency,
        (select sum(spend_amount) from {{ ref('fct_spend_daily') }} where not is_after_data_end)
            as raw_amount,
        (select sum(spend_amount) from {{ ref('fct_funnel_weekly') }}) as mart_amount
)

select * from by_currency where raw_amount <> mart_amount
union all
select * from reporting where coalesce(raw_amount, 0) <> coalesce(mart_amount, 0)
