{{ config(meta={'dagster': {'ref': {'name': 'fct_sales_feedback'}}}) }}
{#- The feedback counts every MQL episode once, as the SLA mart does (one row per handover):
    the report's feedback table and its SLA section cannot disagree on how many MQLs there were. -#}
select feedback.mqls, sla.handovers
from (select coalesce(sum(mqls), 0) as mqls from {{ ref('fct_sales_feedback') }}) as feedback
cross join (select count(*) as handovers from {{ ref('fct_sla') }}) as sla
where feedback.mqls <> sla.handovers
