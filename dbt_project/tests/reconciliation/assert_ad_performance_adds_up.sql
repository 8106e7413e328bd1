{{ config(meta={'dagster': {'ref': {'name': 'fct_ad_performance_weekly'}}}) }}
{#- The ad performance mart holds all the ad spend of the weeks (fct_spend_daily, to the
    cent) and every lead that carries a utm_campaign, once. -#}
with mart as (
    select coalesce(sum(spend_amount), 0) as spend_amount, sum(leads) as leads
    from {{ ref('fct_ad_performance_weekly') }}
),

spend as (
    select coalesce(sum(spend_amount), 0) as spend_amount
    from {{ ref('fct_spend_daily') }}
    where spend_source = 'ad_platform' and not is_after_data_end
),

leads as (
    select count(*) as leads from {{ ref('int_leads_classified') }} where utm_campaign is not null
)

select m.*, s.spend_amount as spend_of_the_weeks, l.leads as leads_with_a_campaign
from mart as m
cross join spend as s
cross join leads as l
where m.spend_amount <> s.spend_amount or m.leads <> l.leads
