{#- Each lead's latest scored activity: the state its current engagement decays from.
    Incremental by lead (macros/incremental.sql), so "now" costs one row per lead, not a pass
    over every activity. -#}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_leads_to_rebuild() }}") }}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__activities') }}
-- depends_on: {{ ref('stg_crm__qualifications') }}

{%- set state_columns = ['lead_id', 'activity_id', 'occurred_at', 'episode', 'score_episode',
                         'episode_origin_at', 'decayed_sum_at_origin'] %}

with scored as (
    select {{ state_columns | join(', ') }}
    from {{ ref('int_activities_scored') }}
    {%- if is_incremental() %}
    where lead_id in ({{ leads_to_rebuild() }})
    {%- endif %}
),

last_activity as (
    {{ first_row_per('scored', 'lead_id', 'occurred_at desc, activity_id desc') }}
)

select {{ state_columns | join(', ') }}
from last_activity
