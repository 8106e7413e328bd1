{#- One row per MQL episode: the first activity of an engagement episode at which an
    inbound, non-excluded lead with enough fit reached the threshold (or fast-tracked).
    Incremental by lead, like int_activities_scored.
-#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

candidates as (
    select
        lead_id, episode, score_episode, occurred_at, activity_id, activity_type, lead_score,
        fit_score, engagement_score, engagement_raw, mql_threshold
    from {{ ref('int_activities_scored') }}
    where is_mql_candidate{{ of_rebuilt_leads(keyword='and', built_at='built_at') }}
),

-- the first candidate of each episode (one hash aggregate, not a sort of every candidate)
first_candidates as (
    {{ first_row_per('candidates', 'lead_id, episode', 'occurred_at, activity_id') }}
),

final as (
    select
        lead_id,
        episode as mql_episode,
        score_episode,
        occurred_at as mql_at,
        activity_id as mql_activity_id,
        activity_type as mql_activity_type,
        lead_score as mql_lead_score,
        fit_score as mql_fit_score,
        engagement_score as mql_engagement_score,
        engagement_raw as mql_engagement_raw,
        case when lead_score >= mql_threshold then 'score' else 'fast_track' end as mql_trigger
    from first_candidates
)

select * from final
