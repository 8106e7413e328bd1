{#- One row per MQL handover (int_lead_mql_events: our scoring's episodes, or the CRM's MQL
    dates): the lead's first one is its MQL of the lifecycle (is_first_mql, at the
    lifecycle's MQL time - a CRM-recorded MQL put in order starts there); the others return
    after a recycle or a nurtured rejection (is_returning_mql). Each
    episode runs until the next one (next_mql_at): its SLA clock, its sales decision and its
    cohort conversion count there, so a returning lead's later SQL counts for its own episode,
    within the lead's segment window (def_maturity_windows).
    Incremental by lead, like the lifecycle it reads (macros/by_lead_incremental.sql). -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

mql_events as (
    select * from {{ ref('int_lead_mql_events') }}{{ of_rebuilt_leads() }}
),

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}{{ of_rebuilt_leads() }}
),

windows as (
    select * from {{ ref('def_maturity_windows') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

ranked as (
    select
        e.lead_id,
        e.mql_episode,
        e.episode_number,
        case when e.episode_number = 1 and l.mql_at is not null then l.mql_at else e.mql_at end
            as mql_at,
        e.episode_number = 1 and l.mql_at is not null as is_first_mql
    from (
        select
            *,
            row_number() over (partition by lead_id order by mql_at, mql_episode) as episode_number
        from mql_events
    ) as e
    left join lifecycle as l on e.lead_id = l.lead_id
),

bounded as (
    select
        *,
        lead(mql_at) over (partition by lead_id order by episode_number) as next_mql_at
    from ranked
),

final as (
    select
        b.lead_id,
        b.mql_episode,
        cast(b.episode_number as {{ dbt.type_int() }}) as episode_number,
        b.mql_at,
        b.next_mql_at,
        b.is_first_mql,
        -- back after the lead's first MQL (the lifecycle's); an MQL the lifecycle left off its
        -- path (it came after the SQL) is neither first nor returning
        b.episode_number > 1 and l.mql_at is not null as is_returning_mql,
        cast({{ dbt.date_trunc('week', utc_to_local('b.mql_at', 's.reporting_timezone')) }} as date)
            as mql_week_start_date,
        l.segment,
        l.channel_group,
        l.acquisition_mode,
        {{ maturity_days('mql_to_sql') }} as mql_to_sql_days,
        {{ maturity_days('mql_to_customer') }} as mql_to_customer_days,
        coalesce(l.sql_at >= b.mql_at
            and (b.next_mql_at is null or l.sql_at < b.next_mql_at)
            and l.sql_at <= {{ dbt.dateadd('day', maturity_days('mql_to_sql'), 'b.mql_at') }}, false)
            as is_sql_converted,
        coalesce(l.customer_at >= b.mql_at
            and (b.next_mql_at is null or l.customer_at < b.next_mql_at)
            and l.customer_at <= {{ dbt.dateadd('day', maturity_days('mql_to_customer'), 'b.mql_at') }}, false)
            as is_customer_converted
    from bounded as b
    inner join lifecycle as l on b.lead_id = l.lead_id
    cross join settings as s
    left join windows as w on l.segment = w.segment
)

select * from final
