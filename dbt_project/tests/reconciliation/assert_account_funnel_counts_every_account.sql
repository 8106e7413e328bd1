{{ config(meta={'dagster': {'ref': {'name': 'fct_account_funnel_weekly'}}}) }}
{#- The account funnel counts every account once per stage it entered, and every lead of an
    account once: its weekly sums equal dim_accounts' counts (and the accounts' leads). -#}
with weekly as (
    select
        sum(new_accounts) as new_accounts,
        sum(mql_accounts) as mql_accounts,
        sum(sql_accounts) as sql_accounts,
        sum(opportunity_accounts) as opportunity_accounts,
        sum(customer_accounts) as customer_accounts,
        sum(account_leads) as account_leads
    from {{ ref('fct_account_funnel_weekly') }}
),

accounts as (
    select
        count(*) as new_accounts,
        count(first_mql_at) as mql_accounts,
        count(first_sql_at) as sql_accounts,
        count(first_opportunity_at) as opportunity_accounts,
        count(first_customer_at) as customer_accounts,
        sum(leads) as account_leads
    from {{ ref('dim_accounts') }}
)

select w.*, a.*
from weekly as w
cross join accounts as a
where w.new_accounts <> a.new_accounts
    or w.mql_accounts <> a.mql_accounts
    or w.sql_accounts <> a.sql_accounts
    or w.opportunity_accounts <> a.opportunity_accounts
    or w.customer_accounts <> a.customer_accounts
    or w.account_leads <> a.account_leads
