{#- One row per account (int_lead_accounts: the companies behind the leads): its leads, the
    furthest stage any of them reached and when the account first entered each stage, its
    score (accounts.score: the best lead's, or the mean of its best `score_leads` leads'; a
    disqualified lead does not count), the best lead and its owner, and the account's open
    pipeline and won amount. B2B buying happens per company: several contacts, one deal. -#}
with accounts as (
    select * from {{ ref('int_lead_accounts') }}
),

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}
),

scores as (
    select * from {{ ref('int_lead_scores_current') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

leads as (
    select
        a.account_key,
        a.lead_id,
        a.company_name,
        a.segment,
        a.employee_count,
        a.acquisition_mode,
        a.owner_id,
        l.lead_created_at,
        l.mql_at,
        l.sql_at,
        l.opportunity_at,
        l.customer_at,
        l.current_stage,
        sc.lead_score,
        sc.last_activity_at,
        -- the account's score counts its leads still in play
        case when l.current_stage <> 'disqualified' then sc.lead_score end as counted_score
    from accounts as a
    inner join lifecycle as l on a.lead_id = l.lead_id
    left join scores as sc on a.lead_id = sc.lead_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by account_key order by counted_score desc nulls last, lead_id
        ) as score_rank,
        row_number() over (
            partition by account_key order by employee_count desc nulls last, lead_id
        ) as size_rank
    from leads
),

names as (
    select account_key, company_name, count(*) as name_leads
    from leads
    where company_name is not null
    group by account_key, company_name
),

account_names as (
    {{ first_row_per('names', 'account_key', 'name_leads desc, company_name') }}
),

pipeline as (
    select
        a.account_key,
        sum(case when not o.is_closed then 1 else 0 end) as open_opportunities,
        sum(case when not o.is_closed then o.pipeline_amount else 0 end) as open_pipeline_amount,
        sum(case when o.is_won then o.won_amount else 0 end) as won_amount
    from accounts as a
    inner join opportunities as o on a.lead_id = o.lead_id
    group by a.account_key
),

rolled_up as (
    select
        r.account_key,
        count(*) as leads,
        sum(case when r.acquisition_mode = 'inbound' then 1 else 0 end) as inbound_leads,
        sum(case when r.acquisition_mode = 'outbound' then 1 else 0 end) as outbound_leads,
        sum(case when r.mql_at is not null then 1 else 0 end) as mql_leads,
        sum(case when r.sql_at is not null then 1 else 0 end) as sql_leads,
        sum(case when r.opportunity_at is not null then 1 else 0 end) as opportunity_leads,
        sum(case when r.customer_at is not null then 1 else 0 end) as customer_leads,
        min(r.lead_created_at) as first_lead_created_at,
        min(r.mql_at) as first_mql_at,
        min(r.sql_at) as first_sql_at,
        min(r.opportunity_at) as first_opportunity_at,
        min(r.customer_at) as first_customer_at,
        max(r.last_activity_at) as last_activity_at,
        max(r.counted_score) as best_lead_score,
        avg(case when r.score_rank <= s.account_score_leads then r.counted_score end) as mean_of_best_score,
        max(case when r.score_rank = 1 and r.counted_score is not null then r.lead_id end) as best_lead_id,
        max(case when r.score_rank = 1 and r.counted_score is not null then r.owner_id end) as best_lead_owner_id,
        max(case when r.size_rank = 1 then r.segment end) as segment
    from ranked as r
    cross join settings as s
    group by r.account_key
),

final as (
    select
        u.account_key,
        n.company_name as account_name,
        u.segment,
        cast(u.leads as {{ dbt.type_bigint() }}) as leads,
        cast(u.inbound_leads as {{ dbt.type_bigint() }}) as inbound_leads,
        cast(u.outbound_leads as {{ dbt.type_bigint() }}) as outbound_leads,
        cast(u.mql_leads as {{ dbt.type_bigint() }}) as mql_leads,
        cast(u.sql_leads as {{ dbt.type_bigint() }}) as sql_leads,
        cast(u.opportunity_leads as {{ dbt.type_bigint() }}) as opportunity_leads,
        cast(u.customer_leads as {{ dbt.type_bigint() }}) as customer_leads,
        case
            when u.first_customer_at is not null then 'customer'
            when u.first_opportunity_at is not null then 'opportunity'
            when u.first_sql_at is not null then 'sql'
            when u.first_mql_at is not null then 'mql'
            else 'lead'
        end as furthest_stage,
        u.first_lead_created_at,
        u.first_mql_at,
        u.first_sql_at,
        u.first_opportunity_at,
        u.first_customer_at,
        case
            when s.account_score_rule = 'mean_of_best' then {{ round_score('u.mean_of_best_score') }}
            else u.best_lead_score
        end as account_score,
        u.best_lead_id,
        u.best_lead_score,
        u.best_lead_owner_id,
        u.last_activity_at,
        cast(coalesce(p.open_opportunities, 0) as {{ dbt.type_bigint() }}) as open_opportunities,
        cast(coalesce(p.open_pipeline_amount, 0) as {{ type_money() }}) as open_pipeline_amount,
        cast(coalesce(p.won_amount, 0) as {{ type_money() }}) as won_amount,
        s.reporting_currency,
        s.definitions_version
    from rolled_up as u
    cross join settings as s
    left join account_names as n on u.account_key = n.account_key
    left join pipeline as p on u.account_key = p.account_key
)

select * from final
