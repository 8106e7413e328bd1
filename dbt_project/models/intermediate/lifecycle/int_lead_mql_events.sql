{#- The MQL moments the lifecycle and the SLA count, from the source the definitions name
    (lifecycle.stage_source): `computed` - the MQL episodes of our scoring; `crm` - every
    date the CRM (or marketing-automation tool) recorded a lead entering its MQL stage, so a
    team whose tool decides MQL, or whose export has no activity history, gets the funnel. -#}
with episodes as (
    select * from {{ ref('int_lead_mql_episodes') }}
),

crm_entries as (
    select * from {{ ref('int_crm_stage_entries') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

computed as (
    select e.lead_id, e.mql_episode, e.mql_at, e.mql_trigger
    from episodes as e
    cross join settings as s
    where s.stage_source = 'computed'
),

crm as (
    select
        e.lead_id,
        cast(row_number() over (partition by e.lead_id order by e.entered_at) as {{ dbt.type_bigint() }})
            as mql_episode,
        e.entered_at as mql_at,
        'crm' as mql_trigger
    from crm_entries as e
    cross join settings as s
    where s.stage_source = 'crm' and e.stage = 'mql'
),

final as (
    select lead_id, cast(mql_episode as {{ dbt.type_bigint() }}) as mql_episode, mql_at, mql_trigger
    from computed
    union all
    select lead_id, mql_episode, mql_at, mql_trigger from crm
)

select * from final
