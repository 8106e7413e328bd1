{#- Spend per reporting week, channel group and acquisition mode, spread over segments in
    proportion to the leads each segment brought that week through that channel, to the cent
    (the segments' parts add up to the channel's spend exactly). A week whose spend brought
    no lead keeps it in segment `unassigned`: totals never change. Costs dated after the
    data's cut-off are left out - no week after it is reported. -#}
with spend as (
    select * from {{ ref('int_spend_daily') }}
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
        cast(sum(s.spend_amount) as {{ type_money() }}) as spend_amount
    from spend as s
    inner join calendar as c on s.spend_date = c.calendar_date
    where not s.is_after_data_end
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

-- Each segment's leads and the leads of the segments before it (in name order), of the
-- week's leads through the channel: the bounds of its part of the spend.
shares as (
    select
        *,
        sum(leads) over (
            partition by week_start_date, channel_group, acquisition_mode
            order by segment
            rows between unbounded preceding and current row
        ) as leads_up_to,
        sum(leads) over (partition by week_start_date, channel_group, acquisition_mode)
            as channel_leads
    from weekly_leads
)

select
    w.week_start_date,
    coalesce(sh.segment, 'unassigned') as segment,
    w.channel_group,
    w.acquisition_mode,
    case
        when sh.segment is null then w.spend_amount
        else {{ exact_share('w.spend_amount', 'sh.leads_up_to - sh.leads', 'sh.leads_up_to', 'sh.channel_leads') }}
    end as spend_amount
from weekly_spend as w
left join shares as sh
    on w.week_start_date = sh.week_start_date
    and w.channel_group = sh.channel_group
    and w.acquisition_mode = sh.acquisition_mode
