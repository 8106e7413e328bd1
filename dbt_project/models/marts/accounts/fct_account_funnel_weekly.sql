{#- The funnel read by account: per reporting-zone week and segment, the accounts that
    entered each stage (their first lead, first MQL, first SQL, first opportunity, first won
    deal - dim_accounts), and the new leads that week, with how many came from accounts
    already known. Weeks with no account event have no row. -#}
with accounts as (
    select * from {{ ref('dim_accounts') }}
),

lead_accounts as (
    select * from {{ ref('int_lead_accounts') }}
),

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

{%- set stages = [('new_accounts', 'first_lead_created_at'), ('mql_accounts', 'first_mql_at'),
                  ('sql_accounts', 'first_sql_at'), ('opportunity_accounts', 'first_opportunity_at'),
                  ('customer_accounts', 'first_customer_at')] %}

-- One row per account and stage it entered, in the week it entered it.
account_events as (
    {%- for column, entered_at in stages %}
    select
        a.segment,
        cast({{ dbt.date_trunc('week', utc_to_local('a.' ~ entered_at, 's.reporting_timezone')) }} as date)
            as week_start_date,
        '{{ column }}' as event
    from accounts as a
    cross join settings as s
    where a.{{ entered_at }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- Each lead of an account in the week it was created, and whether its account was known.
lead_events as (
    select
        a.segment,
        cast({{ dbt.date_trunc('week', utc_to_local('l.lead_created_at', 's.reporting_timezone')) }} as date)
            as week_start_date,
        case when l.lead_created_at > a.first_lead_created_at then 1 else 0 end as of_known_account
    from lead_accounts as la
    inner join lifecycle as l on la.lead_id = l.lead_id
    inner join accounts as a on la.account_key = a.account_key
    cross join settings as s
),

counted_accounts as (
    select
        week_start_date,
        segment,
        {%- for column, entered_at in stages %}
        sum(case when event = '{{ column }}' then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from account_events
    group by week_start_date, segment
),

counted_leads as (
    select
        week_start_date,
        segment,
        count(*) as account_leads,
        sum(of_known_account) as leads_of_known_accounts
    from lead_events
    group by week_start_date, segment
),

final as (
    select
        coalesce(c.week_start_date, l.week_start_date) as week_start_date,
        {{ iso_week_label('coalesce(c.week_start_date, l.week_start_date)') }} as iso_week,
        coalesce(c.segment, l.segment) as segment,
        {%- for column, entered_at in stages %}
        cast(coalesce(c.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        cast(coalesce(l.account_leads, 0) as {{ dbt.type_bigint() }}) as account_leads,
        cast(coalesce(l.leads_of_known_accounts, 0) as {{ dbt.type_bigint() }}) as leads_of_known_accounts,
        s.definitions_version
    from counted_accounts as c
    full outer join counted_leads as l
        on c.week_start_date = l.week_start_date and c.segment = l.segment
    cross join settings as s
)

select * from final
