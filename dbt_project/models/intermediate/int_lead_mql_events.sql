{#- The MQL moments the lifecycle and the SLA count, from the source the definitions name
    (lifecycle.stage_source): `computed` - the MQL episodes of our scoring; `crm` - every
    date the CRM (or marketing-automation tool) recorded a lead entering its MQL stage, so a
    team whose tool decides MQL, or whose export has no activity history, gets the funnel. -#}
with episodes as (
    select * from {{ ref('int_lead_mql_episodes') }}
),

stage_history as (
    select * from {{ ref('stg_crm__stage_history') }}
),

stage_map as (
    select * from {{ ref('def_crm_stage_map') }}
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

crm_entries as (
    select distinct h.lead_id, h.entered_at
    from stage_history as h
    inner join stage_map as m on h.stage = m.crm_stage
    cross join settings as s
    where s.stage_source = 'crm' and m.stage = 'mql' and h.entered_at is not null
),

crm as (
    select
        lead_id,
        cast(row_number() over (partition by lead_id order by entered_at) as {{ dbt.type_bigint() }})
            as mql_episode,
        entered_at as mql_at,
        'crm' as mql_trigger
    from crm_entries
),

final as (
    select lead_id, cast(mql_episode as {{ dbt.type_bigint() }}) as mql_episode, mql_at, mql_trigger
    from computed
    union all
    select lead_id, mql_episode, mql_at, mql_trigger from crm
)

select * from final
