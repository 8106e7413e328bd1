{{ config(meta={'dagster': {'ref': {'name': 'fct_funnel_weekly'}}}) }}
{#- Every stage entry of fct_lead_lifecycle is counted once in the weekly funnel, and the
    SLA rows are the MQL episodes. A fan-out or a dropped week shows here. -#}
with lifecycle as (
    select
        count(*) as leads,
        count(mql_at) as mqls,
        count(sql_at) as sqls,
        count(opportunity_at) as new_opportunities,
        count(customer_at) as customers,
        sum(mql_episode_count) as mql_episodes
    from {{ ref('fct_lead_lifecycle') }}
),

weekly as (
    select
        sum(leads) as leads,
        sum(mqls) as mqls,
        sum(sqls) as sqls,
        sum(new_opportunities) as new_opportunities,
        sum(customers) as customers,
        sum(mql_episodes) as mql_episodes
    from {{ ref('fct_funnel_weekly') }}
),

opportunities as (
    select count(*) as n from {{ ref('stg_crm__opportunities') }}
),

weekly_opportunities as (
    select sum(opportunities_created) as n from {{ ref('fct_funnel_weekly') }}
)

select *
from lifecycle as l
cross join weekly as w
cross join opportunities as o
cross join weekly_opportunities as wo
where l.leads <> w.leads
    or l.mqls <> w.mqls
    or l.sqls <> w.sqls
    or l.new_opportunities <> w.new_opportunities
    or l.customers <> w.customers
    or l.mql_episodes <> w.mql_episodes
    or o.n <> wo.n
