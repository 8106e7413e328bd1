{#- One row per lead: when it first entered each stage of lead -> MQL -> SQL -> opportunity
    -> customer, its MQL episodes, its current stage and why (SPEC §7). The stages are worked
    out in int_lead_lifecycle; this is what BI and the report read. Incremental by lead like
    it (macros/by_lead_incremental.sql): a daily build copies the rebuilt leads only. -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

lifecycle as (
    select * from {{ ref('int_lead_lifecycle') }}{{ of_rebuilt_leads() }}
)

select * from lifecycle
