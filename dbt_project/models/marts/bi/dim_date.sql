{#- One row per day from the first day of data to the data's cut-off, in the reporting time
    zone's calendar: the date dimension BI tools group facts by (ISO week, month, quarter,
    year) - every fact's week_start_date or date joins here. -#}
with calendar as (
    select * from {{ ref('int_calendar_days') }}
),

events as (
    select * from {{ ref('int_lead_funnel_events') }}
),

spend as (
    select * from {{ ref('int_spend_daily') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

business_days as (
    select * from {{ ref('def_business_days') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

bounds as (
    select
        -- from the Monday of the first week any fact counts (the weekly marts' first week)
        cast({{ dbt.date_trunc('week', 'least((select min(created_week) from events), (select min(created_week) from opportunities), (select min(spend_date) from spend))') }} as date)
            as first_date,
        (select max(scored_as_of_date) from as_of) as last_date
),

settings_in_force as (
    select definitions_version from {{ ref('def_settings') }}
),

final as (
    select
        c.calendar_date as date_day,
        c.week_start_date,
        {{ iso_week_label('c.week_start_date') }} as iso_week,
        cast({{ dbt.date_trunc('month', 'c.calendar_date') }} as date) as month_start_date,
        cast({{ dbt.date_trunc('quarter', 'c.calendar_date') }} as date) as quarter_start_date,
        cast(extract(year from c.calendar_date) as {{ dbt.type_int() }}) || '-Q'
            || cast(extract(quarter from c.calendar_date) as {{ dbt.type_int() }}) as quarter_label,
        cast(extract(year from c.calendar_date) as {{ dbt.type_int() }}) as calendar_year,
        c.iso_day_of_week,
        b.iso_day_of_week is not null as is_business_day,
        c.week_start_date = cast({{ dbt.date_trunc('week', 'bo.last_date') }} as date)
            as is_cut_off_week,
        v.definitions_version
    from calendar as c
    cross join settings_in_force as v
    cross join bounds as bo
    left join business_days as b on c.iso_day_of_week = b.iso_day_of_week
    where c.calendar_date between bo.first_date and bo.last_date
)

select * from final
