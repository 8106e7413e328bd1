{#- Every MQL met the definition at its MQL time: inbound, not excluded, fit >= min_fit, and
    lead score >= threshold unless fast-tracked by a fast-track activity. -#}
with episodes as (
    select * from {{ ref('int_lead_mql_episodes') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

rules as (
    select * from {{ ref('def_engagement_rules') }}
),

settings as (
    select * from {{ ref('def_settings') }}
)

select
    e.lead_id,
    e.mql_episode,
    e.mql_at,
    e.mql_lead_score,
    e.mql_fit_score,
    e.mql_trigger,
    l.is_excluded,
    l.acquisition_mode
from episodes as e
inner join leads as l on e.lead_id = l.lead_id
cross join settings as s
left join rules as r on e.mql_activity_type = r.activity_type
where l.is_excluded
    or l.acquisition_mode <> 'inbound'
    or e.mql_fit_score < s.mql_min_fit
    or e.mql_at < l.created_at
    or (e.mql_lead_score < s.mql_threshold and not coalesce(r.is_fast_track, false))
