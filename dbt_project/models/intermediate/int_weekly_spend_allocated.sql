{#- Spend per reporting week, channel group and acquisition mode, spread over segments in
    proportion to the leads each segment brought that week through that channel. A week
    whose spend brought no lead keeps it in segment `unassigned`: totals never change. -#}
with spend as (
    select * from {{ ref('fct_spend_daily') }}
),

events as (
    select * from {{ ref('int_lead_funnel_events') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

weekly_spend as (
    select
        c.week_start_date as week_start_date,
        s.channel_group,
        s.acquisition_mode,
        sum(s.spend_amount) as spend_amount
    from spend as s
    inner join calendar as c on s.spend_date = c.calendar_date
    group by c.week_start_date, s.channel_group, s.acquisition_mode
),

weekly_leads as (
    select
        created_week as week_start_date,
        channel_group,
        acquisition_mode,
        segment,
        count(*) as leads
    from events
    group by created_week, channel_group, acquisition_mode, segment
),

shares as (
    select
        *,
        1.0 * leads / sum(leads) over (partition by week_start_date, channel_group, acquisition_mode)
            as lead_share
    from weekly_leads
)

select
    w.week_start_date,
    coalesce(sh.segment, 'unassigned') as segment,
    w.channel_group,
    w.acquisition_mode,
    w.spend_amount * coalesce(sh.lead_share, 1.0) as spend_amount
from weekly_spend as w
left join shares as sh
    on w.week_start_date = sh.week_start_date
    and w.channel_group = sh.channel_group
    and w.acquisition_mode = sh.acquisition_mode
