{#- The CRM's recorded stage entries in the stages of these definitions: every
    crm_stage_history row whose stage value drift.crm_stages maps (mql, sql, ...). Read by
    the lifecycle and the SLA when lifecycle.stage_source is crm. Incremental by lead
    (macros/by_lead_incremental.sql): a daily run maps the day's leads' history only. -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

stage_history as (
    select * from {{ ref('stg_crm__stage_history') }}{{ of_rebuilt_leads() }}
),

stage_map as (
    select * from {{ ref('def_crm_stage_map') }}
)

select distinct
    h.lead_id,
    m.stage,
    h.entered_at
from stage_history as h
inner join stage_map as m on h.stage = m.crm_stage
where h.entered_at is not null
