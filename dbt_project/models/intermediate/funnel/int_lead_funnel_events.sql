{#- One row per lead with the reporting-zone week of every stage it entered, the days between
    stages, and whether its SQL and opportunity cohorts converted within the windows of the
    lead's segment (def_maturity_windows). MQL cohorts are per episode: int_mql_handovers.
    Incremental by lead, like the lifecycle it reads (macros/by_lead_incremental.sql). -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}{{ of_rebuilt_leads() }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

windows as (
    select * from {{ ref('def_maturity_windows') }}
),

local_times as (
    select
        l.*,
        {{ utc_to_local('l.lead_created_at', 's.reporting_timezone') }} as created_local,
        {{ utc_to_local('l.mql_at', 's.reporting_timezone') }} as mql_local,
        {{ utc_to_local('l.sql_at', 's.reporting_timezone') }} as sql_local,
        {{ utc_to_local('l.opportunity_at', 's.reporting_timezone') }} as opportunity_local,
        {{ utc_to_local('l.customer_at', 's.reporting_timezone') }} as customer_local
    from lifecycle as l
    cross join settings as s
),

final as (
    select
        t.lead_id,
        t.segment,
        t.channel_group,
        t.acquisition_mode,
        cast({{ dbt.date_trunc('week', 't.created_local') }} as date) as created_week,
        cast({{ dbt.date_trunc('week', 't.mql_local') }} as date) as mql_week,
        cast({{ dbt.date_trunc('week', 't.sql_local') }} as date) as sql_week,
        cast({{ dbt.date_trunc('week', 't.opportunity_local') }} as date) as opportunity_week,
        cast({{ dbt.date_trunc('week', 't.customer_local') }} as date) as customer_week,
        {{ dbt.datediff('t.lead_created_at', 't.mql_at', 'second') }} / 86400.0 as days_lead_to_mql,
        {{ dbt.datediff('t.mql_at', 't.sql_at', 'second') }} / 86400.0 as days_mql_to_sql,
        {{ dbt.datediff('t.sql_at', 't.opportunity_at', 'second') }} / 86400.0 as days_sql_to_opportunity,
        {{ dbt.datediff('t.opportunity_at', 't.customer_at', 'second') }} / 86400.0 as days_opportunity_to_won,
        t.opportunity_at is not null
            and t.opportunity_at <= {{ dbt.dateadd('day', maturity_days('sql_to_opportunity'), 't.sql_at') }}
            as is_sql_to_opportunity_converted,
        t.customer_at is not null
            and t.customer_at <= {{ dbt.dateadd('day', maturity_days('opportunity_to_won'), 't.opportunity_at') }}
            as is_opportunity_to_won_converted
    from local_times as t
    cross join settings as s
    left join windows as w on t.segment = w.segment
)

select * from final
