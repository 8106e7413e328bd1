{#- One row per lead owner (sales rep or SDR) the leads name: the owner dimension of the
    SLA, worklist and lead facts, with how many leads each holds. -#}
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

settings_in_force as (
    select definitions_version from {{ ref('def_settings') }}
),

final as (
    select
        owner_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as leads,
        cast(sum(case when acquisition_mode = 'outbound' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as outbound_leads,
        min(created_at) as first_lead_created_at,
        max(created_at) as last_lead_created_at,
        v.definitions_version
    from leads
    cross join settings_in_force as v
    where owner_id is not null
    group by v.definitions_version, owner_id
)

select * from final
