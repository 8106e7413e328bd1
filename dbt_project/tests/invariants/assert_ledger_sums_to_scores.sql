{#- For every lead and moment, the ledger explains the score exactly: the weighted rows sum to
    the lead score, fit rows to the fit score, engagement rows to the engagement score. -#}
with ledger as (
    select
        lead_id,
        moment,
        scored_at,
        sum(weighted_points) as weighted_sum,
        sum(case when component = 'fit' then points else 0 end) as fit_sum,
        sum(case when component = 'engagement' then points else 0 end) as engagement_sum
    from {{ ref('fct_score_ledger') }}
    group by lead_id, moment, scored_at
),

scores as (
    select lead_id, 'current' as moment, scored_as_of_at as scored_at,
           fit_score, engagement_score, lead_score
    from {{ ref('int_lead_scores_current') }}
    union all
    select lead_id, 'mql', mql_at, mql_fit_score, mql_engagement_score, mql_lead_score
    from {{ ref('int_lead_mql_episodes') }}
)

select
    s.*,
    l.weighted_sum,
    l.fit_sum,
    l.engagement_sum
from scores as s
left join ledger as l
    on s.lead_id = l.lead_id and s.moment = l.moment and s.scored_at = l.scored_at
where abs(coalesce(l.weighted_sum, 0) - s.lead_score) > 1e-6
    or abs(coalesce(l.fit_sum, 0) - s.fit_score) > 1e-6
    or abs(coalesce(l.engagement_sum, 0) - s.engagement_score) > 1e-6
