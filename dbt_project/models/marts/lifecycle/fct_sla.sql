{#- One row per MQL episode: the first sales touch after it and where the handover stands as
    of the data's cut-off (SPEC §8). Elapsed hours are real hours (UTC difference, so
    DST-correct by construction); with business_hours_only they are the business hours
    between the two moments on the reporting time zone's wall clock, day by day.

    Status as of the cut-off (the moment the data runs to, int_scoring_as_of): touched in
    time (within the target), touched late, missed (untouched past the limit) or pending
    (untouched, within the limit). An untouched handover already past the target has missed
    the target (is_target_missed) even while it is still pending for the limit, so the
    target's compliance counts it as a miss. With no sales activity anywhere in the data the
    handovers cannot be measured: status `unmeasured`, compliance NULL, never 0 %.

    The handovers are int_mql_handovers: the lead's first MQL episode is its MQL of
    fct_lead_lifecycle (is_first_mql, at the lifecycle's MQL time) - those rows are the
    headline's MQLs, week by week; an episode's touches are those before the next one.

    Incremental by lead (macros/by_lead_incremental.sql). A lead's rows depend on its own rows and,
    for an untouched episode only, on the scoring moment (pending until the limit passes,
    then missed). So every build also redoes the leads with an untouched episode (72 k of
    1 M leads); a touched episode stays as it is until the lead has new rows. (Only pending
    ones change while the data moves forward, but a correction can move the scoring moment
    back: all untouched ones are redone, at no measurable extra cost.) -#}
{{ by_lead_incremental(moving_rows='not is_touched') }}

with {{ rebuilt_leads_cte() }}

handovers as (
    select * from {{ ref('int_mql_handovers') }}{{ of_rebuilt_leads() }}
),

activities as (
    select * from {{ ref('stg_crm__activities') }}{{ of_rebuilt_leads() }}
),

touch_types as (
    select * from {{ ref('def_sales_touch_types') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}{{ of_rebuilt_leads() }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

business_days as (
    select * from {{ ref('def_business_days') }}
),

sales_touches as (
    select a.lead_id, a.activity_id, a.occurred_at, a.activity_type
    from activities as a
    left join touch_types as t on a.activity_type = t.activity_type
    where t.activity_type is not null or a.actor = 'sales'
),

-- Whether the data holds any sales touch at all (of any lead): without one, no handover
-- can be measured.
touch_data as (
    select count(*) > 0 as has_sales_touches
    from (
        select 1 as one
        from {{ ref('stg_crm__activities') }} as a
        left join touch_types as t on a.activity_type = t.activity_type
        where t.activity_type is not null or a.actor = 'sales'
        limit 1
    ) as any_touch
),

first_touches as (
    select
        lead_id,
        mql_episode,
        touched_at,
        touch_activity_type
    from (
        select
            e.lead_id,
            e.mql_episode,
            t.occurred_at as touched_at,
            t.activity_type as touch_activity_type,
            row_number() over (
                partition by e.lead_id, e.mql_episode order by t.occurred_at, t.activity_id
            ) as touch_rank
        from handovers as e
        inner join sales_touches as t
            on e.lead_id = t.lead_id
            and t.occurred_at >= e.mql_at
            and (e.next_mql_at is null or t.occurred_at < e.next_mql_at)
    ) as ranked
    where touch_rank = 1
),

spans as (
    select
        e.lead_id,
        e.mql_episode,
        e.mql_at,
        e.is_first_mql,
        a.scored_as_of_at as status_as_of_at,
        f.touched_at,
        f.touch_activity_type,
        -- untouched episodes are measured up to the scoring moment (to tell pending from breached)
        coalesce(f.touched_at, a.scored_as_of_at) as span_end_at,
        {{ utc_to_local('e.mql_at', 's.reporting_timezone') }} as mql_local,
        {{ utc_to_local('coalesce(f.touched_at, a.scored_as_of_at)', 's.reporting_timezone') }} as span_end_local
    from handovers as e
    cross join as_of as a
    cross join settings as s
    left join first_touches as f
        on e.lead_id = f.lead_id and e.mql_episode = f.mql_episode
),

-- Business hours: for each reporting-zone day of the span, the overlap with opening hours.
-- Spans are cut at 90 days: beyond that the SLA is long breached and the count would only grow.
business_hours as (
    select
        sp.lead_id,
        sp.mql_episode,
        sum(
            greatest(0,
                {{ dbt.datediff(
                    "greatest(sp.mql_local, " ~ dbt.dateadd('hour', 's.sla_business_hours_start', 'cast(c.calendar_date as ' ~ dbt.type_timestamp() ~ ')') ~ ")",
                    "least(sp.span_end_local, " ~ dbt.dateadd('hour', 's.sla_business_hours_end', 'cast(c.calendar_date as ' ~ dbt.type_timestamp() ~ ')') ~ ")",
                    'second') }}
            )
        ) / 3600.0 as business_hours
    from spans as sp
    cross join settings as s
    inner join calendar as c
        on c.calendar_date >= cast(sp.mql_local as date)
        and c.calendar_date <= cast(sp.span_end_local as date)
        and c.calendar_date <= cast({{ dbt.dateadd('day', 90, 'sp.mql_local') }} as date)
    inner join business_days as b on c.iso_day_of_week = b.iso_day_of_week
    where s.sla_business_hours_only
    group by sp.lead_id, sp.mql_episode
),

measured as (
    select
        sp.*,
        {{ dbt.datediff('sp.mql_at', 'sp.span_end_at', 'second') }} / 3600.0 as elapsed_hours,
        case
            when s.sla_business_hours_only then coalesce(bh.business_hours, 0)
            else {{ dbt.datediff('sp.mql_at', 'sp.span_end_at', 'second') }} / 3600.0
        end as sla_hours,
        s.sla_target_hours,
        s.sla_limit_hours,
        s.sla_business_hours_only
    from spans as sp
    cross join settings as s
    left join business_hours as bh
        on sp.lead_id = bh.lead_id and sp.mql_episode = bh.mql_episode
),

statuses as (
    select
        m.*,
        case
            when not d.has_sales_touches then 'unmeasured'
            when m.touched_at is not null and m.sla_hours <= m.sla_target_hours then 'touched_in_time'
            when m.touched_at is not null then 'touched_late'
            when m.sla_hours > m.sla_limit_hours then 'missed'
            else 'pending'
        end as sla_status
    from measured as m
    cross join touch_data as d
),

final as (
    select
        m.lead_id,
        m.mql_episode,
        m.mql_at,
        cast({{ dbt.date_trunc('week', 'm.mql_local') }} as date) as mql_week_start_date,
        m.is_first_mql,
        l.segment,
        l.channel_group,
        l.acquisition_mode,
        l.owner_id,
        m.touched_at as first_touch_at,
        m.touch_activity_type as first_touch_activity_type,
        m.sla_status,
        -- an untouched handover's status holds as of the cut-off; a touched one's is final
        case when m.touched_at is null then m.status_as_of_at end as status_as_of_at,
        m.touched_at is not null as is_touched,
        case when m.touched_at is not null then m.elapsed_hours end as elapsed_hours_to_first_touch,
        case when m.touched_at is not null then m.sla_hours end as hours_to_first_touch,
        m.sla_status = 'touched_in_time' as is_within_target,
        m.touched_at is not null and m.sla_hours <= m.sla_limit_hours as is_within_limit,
        case when m.sla_status <> 'unmeasured' then m.sla_hours > m.sla_target_hours end
            as is_target_missed,
        m.sla_status = 'missed' as is_never_touched,
        m.sla_status = 'pending' as is_pending,
        case when m.sla_status <> 'unmeasured' then m.sla_hours > m.sla_limit_hours end
            as is_limit_breached,
        m.sla_target_hours,
        m.sla_limit_hours,
        m.sla_business_hours_only,
        l.definitions_version,
        -- when the build that wrote the row started (UTC): the serving publish copies the
        -- rows written since its last publish
        {{ build_stamp() }} as built_at
    from statuses as m
    inner join leads as l on m.lead_id = l.lead_id
)

select * from final
