{#- The moment "current" scores are computed for: the latest activity or lead in the
    warehouse, so that a rebuild of the same data gives the same scores on any day. -#}
with activities as (
    select max(occurred_at) as latest_at from {{ ref('stg_crm__activities') }}
),

leads as (
    select max(created_at) as latest_at from {{ ref('stg_crm__leads') }}
)

select
    coalesce(
        case when a.latest_at > l.latest_at then a.latest_at else l.latest_at end,
        a.latest_at,
        l.latest_at
    ) as scored_as_of_at
from activities as a
cross join leads as l
