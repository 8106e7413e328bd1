{#- One row per lead owner (sales rep or SDR) the leads name: the owner dimension of the
    SLA, worklist and lead facts, with how many leads each holds. -#}
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

final as (
    select
        owner_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as leads,
        cast(sum(case when acquisition_mode = 'outbound' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as outbound_leads,
        min(created_at) as first_lead_created_at,
        max(created_at) as last_lead_created_at
    from leads
    where owner_id is not null
    group by owner_id
)

select * from final
