{#- The prospect activity types each inbound lead did before its evaluation moment
    (int_lead_evaluations): the engagement evidence of fct_scoring_suggestions. Incremental
    by lead, like the evaluation it follows. -#}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_leads_to_rebuild() }}") }}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__activities') }}
-- depends_on: {{ ref('stg_crm__qualifications') }}
-- depends_on: {{ ref('stg_crm__opportunities') }}
-- depends_on: {{ ref('stg_crm__stage_history') }}

with {{ rebuilt_leads_cte() }}

evaluations as (
    select * from {{ ref('int_lead_evaluations') }}{{ of_rebuilt_leads() }}
),

activities as (
    select * from {{ ref('int_activities_scored') }}{{ of_rebuilt_leads(built_at='built_at') }}
)

select distinct a.lead_id, a.activity_type
from activities as a
inner join evaluations as e on a.lead_id = e.lead_id and a.occurred_at < e.evaluated_at
