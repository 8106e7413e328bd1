{#- Acquisition cost per day, per platform and campaign or SDR team, in the reporting
    currency (worked out in int_spend_daily; this is what BI and the report read). -#}
with spend as (
    select * from {{ ref('int_spend_daily') }}
)

select * from spend
