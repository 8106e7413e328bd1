{#- Each lead's latest scored activity: the state its current engagement decays from.
    Incremental by lead (macros/by_lead_incremental.sql), so "now" costs one row per lead, not a pass
    over every activity. -#}
{{ by_lead_incremental() }}

{%- set state_columns = ['lead_id', 'activity_id', 'occurred_at', 'episode', 'score_episode',
                         'episode_origin_at', 'decayed_sum_at_origin'] %}

with {{ rebuilt_leads_cte() }}

scored as (
    select {{ state_columns | join(', ') }}
    from {{ ref('int_activities_scored') }}
    {{- of_rebuilt_leads(built_at='built_at') }}
),

last_activity as (
    {{ first_row_per('scored', 'lead_id', 'occurred_at desc, activity_id desc') }}
)

select {{ state_columns | join(', ') }}
from last_activity
