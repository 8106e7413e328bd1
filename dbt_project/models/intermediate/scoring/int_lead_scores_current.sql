{#- Each lead's fit, engagement and lead score as of the scoring moment: the running
    decayed sum of its current engagement episode, decayed to that moment. -#}
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

last_activity as (
    select * from {{ ref('int_lead_last_activity') }}
),

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

current_episode as (
    select
        q.lead_id,
        count(*) as recycles
    from qualifications as q
    cross join as_of as a
    where q.starts_episode and q.qualified_at <= a.scored_as_of_at
    group by q.lead_id
),

engagement as (
    select
        l.lead_id,
        {{ engagement_raw_at('la', 'a.scored_as_of_at', 'ce.recycles') }} as engagement_raw,
        la.occurred_at as last_activity_at,
        la.score_episode
    from leads as l
    cross join as_of as a
    cross join settings as s
    left join last_activity as la on l.lead_id = la.lead_id
    left join current_episode as ce on l.lead_id = ce.lead_id
),

final as (
    select
        l.lead_id,
        l.fit_score,
        {{ clamp_score('e.engagement_raw') }} as engagement_score,
        e.engagement_raw,
        {{ round_score('s.fit_weight * l.fit_score + s.engagement_weight * ' ~ clamp_score('e.engagement_raw')) }} as lead_score,
        e.last_activity_at,
        e.score_episode,
        a.scored_as_of_at
    from leads as l
    inner join engagement as e on l.lead_id = e.lead_id
    cross join settings as s
    cross join as_of as a
)

select * from final
