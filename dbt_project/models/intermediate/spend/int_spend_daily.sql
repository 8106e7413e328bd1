{#- Acquisition cost per day: ad spend per platform and campaign, and each SDR team's monthly
    cost spread evenly over the month's days (to the last cent: the days add up to the month
    exactly), in the reporting currency, with the channel group it is charged to. Spend whose
    UTMs match no channel rule stays, as unattributed. Costs dated after the data's cut-off
    (the rest of the current month's SDR cost) stay here, flagged: the weekly marts stop at
    the cut-off. Amounts are fixed-scale decimals (macros/currency.sql).
    fct_spend_daily publishes these rows; the weekly allocation reads them here. -#}
with ad_spend as (
    select * from {{ ref('stg_ads__spend') }}
),

sdr_costs as (
    select * from {{ ref('stg_finance__sdr_costs') }}
),

channel_rules as (
    select * from {{ ref('def_channel_rules') }}
),

channel_groups as (
    select * from {{ ref('def_channel_groups') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

fx as (
    select * from {{ ref('int_fx_rate_ranges') }}
),

as_of as (
    select scored_as_of_date as as_of_date from {{ ref('int_scoring_as_of') }}
),

spend_keys as (
    select
        spend_date || '|' || platform || '|' || campaign_id as spend_key,
        *
    from ad_spend
),

spend_fields as (
    {{ unpivot_fields('spend_keys', 'spend_key', [
        ('utm_source', 'utm_source'),
        ('utm_medium', 'utm_medium'),
        ('utm_campaign', 'utm_campaign'),
    ]) }}
),

spend_channels as (
    {{ first_matching_channel('spend_fields', 'spend_key', 'channel_rules') }}
),

ad_rows as (
    select
        a.spend_date,
        'ad_platform' as spend_source,
        a.platform,
        a.campaign_id,
        a.campaign_name,
        a.utm_source,
        a.utm_medium,
        a.utm_campaign,
        coalesce(c.channel_group, s.unattributed_spend_group) as channel_group,
        a.currency,
        cast(a.spend_amount as decimal(18, 4)) as spend_amount_original
    from spend_keys as a
    cross join settings as s
    left join spend_channels as c on a.spend_key = c.spend_key
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

sdr_days as (
    select
        d.calendar_date as spend_date,
        c.team,
        c.currency,
        c.cost_amount,
        c.cost_month,
        row_number() over (partition by c.team, c.cost_month order by d.calendar_date)
            as day_number,
        count(*) over (partition by c.team, c.cost_month) as days_in_month
    from sdr_costs as c
    inner join calendar as d
        on d.calendar_date >= c.cost_month
        and d.calendar_date < cast({{ dbt.dateadd('month', 1, 'c.cost_month') }} as date)
),

sdr_rows as (
    select
        d.spend_date,
        'sdr_team' as spend_source,
        'sdr' as platform,
        d.team as campaign_id,
        d.team as campaign_name,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        s.sdr_cost_group as channel_group,
        d.currency,
        {{ exact_share('d.cost_amount', 'd.day_number - 1', 'd.day_number', 'd.days_in_month', 4) }}
            as spend_amount_original
    from sdr_days as d
    cross join settings as s
),

unioned as (
    select * from ad_rows
    union all
    select * from sdr_rows
),

-- A cost dated after the data's last day (the rest of the current month's SDR cost)
-- converts at the rate of that last day: rate feeds have no future.
rate_dates as (
    select
        u.*,
        case when u.spend_date > a.as_of_date then a.as_of_date else u.spend_date end as rate_date
    from unioned as u
    cross join as_of as a
),

converted as (
    select
        u.*,
        {{ fx_rate_for('u.currency', 'u.rate_date') }} as fx_rate
    from rate_dates as u
    cross join settings as s
    left join fx on {{ fx_join_condition('u.currency', 'u.rate_date') }}
),

fx_check as (
    {{ assert_converted('converted', 'fx_rate', 'currency', 'spend_date') }}
),

final as (
    select
        c.spend_date,
        c.spend_source,
        c.platform,
        c.campaign_id,
        c.campaign_name,
        c.utm_source,
        c.utm_medium,
        c.utm_campaign,
        c.channel_group,
        coalesce(g.acquisition_mode, 'inbound') as acquisition_mode,
        c.currency,
        c.spend_amount_original,
        c.fx_rate,
        {{ converted_amount('c.spend_amount_original', 'c.fx_rate') }} as spend_amount,
        c.spend_date > a.as_of_date as is_after_data_end,
        s.reporting_currency,
        s.definitions_version
    from converted as c
    cross join fx_check as k
    cross join settings as s
    cross join as_of as a
    left join channel_groups as g on c.channel_group = g.channel_group
    where k.failure is null
)

select * from final
