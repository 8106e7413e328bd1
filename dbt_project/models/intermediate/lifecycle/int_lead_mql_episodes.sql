{#- One row per MQL episode: the first activity of an engagement episode at which an
    inbound, non-excluded lead with enough fit reached the threshold (or fast-tracked).
    Incremental by lead, like int_activities_scored.
-#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

-- (not materialized: read twice below, it would otherwise be written out: 12 M rows at 1 M leads)
candidates as {{ inline_cte() }} (
    select
        lead_id, episode, score_episode, occurred_at, activity_id, activity_type, lead_score,
        engagement_score, engagement_raw
    from {{ ref('int_activities_scored') }}
    where is_mql_candidate{{ of_rebuilt_leads(keyword='and', built_at='built_at') }}
),

-- The first candidate of each episode. Every activity after an episode reaches the threshold
-- is a candidate (12 M of 28 M at 1 M leads); one hash aggregate carrying whole rows grew 6.9 x
-- for 4 x the data (its table outgrows the caches). A narrow aggregate finds the first moment,
-- and only the candidates at that moment are ranked: 2.3 s -> 1.7 s at 1 M leads, 4.6 x.
first_moments as (
    select lead_id, episode, min(occurred_at) as first_at
    from candidates
    group by lead_id, episode
),

at_first_moment as (
    select c.*
    from candidates as c
    inner join first_moments as f
        on c.lead_id = f.lead_id and c.episode = f.episode and c.occurred_at = f.first_at
),

first_candidates as (
    {{ first_row_per('at_first_moment', 'lead_id, episode', 'occurred_at, activity_id') }}
),

-- the fit the scoring used: the lead's (int_activities_scored does not repeat it per activity)
final as (
    select
        c.lead_id,
        c.episode as mql_episode,
        c.score_episode,
        c.occurred_at as mql_at,
        c.activity_id as mql_activity_id,
        c.activity_type as mql_activity_type,
        c.lead_score as mql_lead_score,
        l.fit_score as mql_fit_score,
        c.engagement_score as mql_engagement_score,
        c.engagement_raw as mql_engagement_raw,
        case when c.lead_score >= s.mql_threshold then 'score' else 'fast_track' end as mql_trigger
    from first_candidates as c
    inner join {{ ref('int_leads_classified') }} as l on c.lead_id = l.lead_id
    cross join {{ ref('def_settings') }} as s
)

select * from final
