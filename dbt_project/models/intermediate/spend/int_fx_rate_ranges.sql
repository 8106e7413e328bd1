{#- Each exchange rate with the days it may convert: from its date until the next rate, and
    never longer than fx_max_staleness_days (so a gap in the feed is an error, not a guess). -#}
with rates as (
    select * from {{ ref('stg_finance__fx_rates') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

ranged as (
    select
        r.currency,
        r.rate_date as valid_from,
        lead(r.rate_date) over (partition by r.currency order by r.rate_date) as next_rate_date,
        cast({{ dbt.dateadd('day', 's.fx_max_staleness_days + 1', 'r.rate_date') }} as date) as stale_after,
        r.rate_to_reporting
    from rates as r
    cross join settings as s
)

select
    currency,
    valid_from,
    case
        when next_rate_date is not null and next_rate_date < stale_after then next_rate_date
        else stale_after
    end as valid_until,
    rate_to_reporting
from ranged
