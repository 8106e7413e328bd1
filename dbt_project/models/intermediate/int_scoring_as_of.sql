{#- The moment the warehouse's data runs to: the latest lead, activity, qualification,
    opportunity event or CRM stage entry. "Current" scores are computed for it and the weekly
    funnel runs to its week, so a rebuild of the same data gives the same numbers on any day. -#}
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
)

select max(latest_at) as scored_as_of_at
from moments
