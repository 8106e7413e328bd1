{#- The moment the warehouse's data runs to (its cut-off): the latest lead, activity,
    qualification, opportunity event or CRM stage entry. "Current" scores are computed for
    it, SLA statuses are measured at it, and the weekly funnel runs to its week (no week after
    it is reported), so a rebuild of the same data gives the same numbers on any day. -#}
with moments as (
    select max(occurred_at) as latest_at from {{ ref('stg_crm__activities') }}
    union all
    select max(created_at) from {{ ref('stg_crm__leads') }}
    union all
    select max(qualified_at) from {{ ref('stg_crm__qualifications') }}
    union all
    select max(created_at) from {{ ref('stg_crm__opportunities') }}
    union all
    select max(closed_at) from {{ ref('stg_crm__opportunities') }}
    union all
    select max(entered_at) from {{ ref('stg_crm__stage_history') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

cut_off as (
    select max(latest_at) as scored_as_of_at
    from moments
)

select
    c.scored_as_of_at,
    cast({{ utc_to_local('c.scored_as_of_at', 's.reporting_timezone') }} as date)
        as scored_as_of_date,
    cast({{ dbt.date_trunc('week', utc_to_local('c.scored_as_of_at', 's.reporting_timezone')) }} as date)
        as scored_as_of_week_start_date
from cut_off as c
cross join settings as s
