{#- The prospect activity types each inbound lead did before its evaluation moment
    (int_lead_evaluations): the engagement evidence of fct_scoring_suggestions. Incremental
    by lead, like the evaluation it follows. -#}
{{ by_lead_incremental() }}

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
