{#- Why every score is what it is (SPEC §6): one row per contributing fit rule or activity,
    at two moments per lead: `current` (the scoring moment) and `mql` (each MQL episode).
    Per lead and moment, sum(weighted_points) = lead_score; the fit rows sum to fit_score and
    the engagement rows to engagement_score (clamp and rounding adjustments included).

    Built in one streaming pass over the scored activities: the clamp rows come from the
    unclamped sums the scoring models already carry, not from re-adding the ledger's own rows
    (which would hold every activity row in memory a second time). -#}
with settings as (
    select * from {{ ref('def_settings') }}
),

-- The moments to explain: now, and each MQL; with the engagement episode each one reads.
moments as (
    select
        c.lead_id,
        'current' as moment,
        c.scored_as_of_at as scored_at,
        last_episode.score_episode,
        cast(null as {{ dbt.type_timestamp() }}) as mql_at,
        cast(null as {{ dbt.type_string() }}) as mql_activity_id,
        c.engagement_score > 0 as explains_engagement,
        c.fit_score,
        c.engagement_score,
        c.engagement_raw,
        c.lead_score
    from {{ ref('int_lead_scores_current') }} as c
    left join {{ ref('int_lead_last_activity') }} as last_episode on c.lead_id = last_episode.lead_id
    union all
    select
        lead_id,
        'mql',
        mql_at,
        score_episode,
        mql_at,
        mql_activity_id,
        true,
        mql_fit_score,
        mql_engagement_score,
        mql_engagement_raw,
        mql_lead_score
    from {{ ref('int_lead_mql_episodes') }}
),

fit_rows as (
    select
        m.lead_id,
        m.moment,
        m.scored_at,
        'fit' as component,
        r.rule_id,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        r.points as raw_points,
        r.points as counted_points,
        1.0 as decay_factor,
        r.points as points
    from moments as m
    inner join {{ ref('int_lead_fit_matches') }} as r on m.lead_id = r.lead_id
),

-- Current moment: the activities of the lead's current engagement episode; MQL moment: those
-- of its episode up to the MQL activity.
engagement_rows as (
    select
        m.lead_id,
        m.moment,
        m.scored_at,
        'engagement' as component,
        a.activity_type as rule_id,
        a.activity_id,
        a.occurred_at,
        a.rule_points as raw_points,
        a.counted_points,
        power(0.5, {{ dbt.datediff('a.occurred_at', 'm.scored_at', 'second') }} / 86400.0 / s.half_life_days) as decay_factor,
        a.counted_points
            * power(0.5, {{ dbt.datediff('a.occurred_at', 'm.scored_at', 'second') }} / 86400.0 / s.half_life_days) as points
    from {{ ref('int_activities_scored') }} as a
    inner join moments as m
        on a.lead_id = m.lead_id and a.score_episode = m.score_episode
    cross join settings as s
    where m.explains_engagement
        and a.rule_points <> 0
        and (m.moment = 'current'
            or a.occurred_at < m.mql_at
            or (a.occurred_at = m.mql_at and a.activity_id <= m.mql_activity_id))
),

fit_sums as (
    select lead_id, sum(points) as points
    from {{ ref('int_lead_fit_matches') }}
    group by lead_id
),

-- Clamping to 0..100, made visible as rows: the score minus the unclamped sum.
adjustments as (
    select
        m.lead_id,
        m.moment,
        m.scored_at,
        'fit' as component,
        m.fit_score - coalesce(f.points, 0) as points
    from moments as m
    left join fit_sums as f on m.lead_id = f.lead_id
    union all
    select
        lead_id,
        moment,
        scored_at,
        'engagement',
        engagement_score - engagement_raw
    from moments
    where explains_engagement
),

rows_with_weights as (
    select * from fit_rows
    union all
    select * from engagement_rows
    union all
    select
        lead_id, moment, scored_at, component, 'clamp_0_100',
        cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_timestamp() }}),
        null, null, null, points
    from adjustments
    where abs(points) > 1e-9
),

weighted as (
    select
        r.*,
        r.points * case when r.component = 'fit' then s.fit_weight else s.engagement_weight end
            as weighted_points
    from rows_with_weights as r
    cross join settings as s
),

-- The rounding of the lead score, made visible as a row.
rounding as (
    select
        m.lead_id,
        m.moment,
        m.scored_at,
        'rounding' as component,
        'round_lead_score' as rule_id,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ dbt.type_float() }}) as raw_points,
        cast(null as {{ dbt.type_float() }}) as counted_points,
        cast(null as {{ dbt.type_float() }}) as decay_factor,
        cast(null as {{ dbt.type_float() }}) as points,
        m.lead_score - (s.fit_weight * m.fit_score + s.engagement_weight * m.engagement_score)
            as weighted_points
    from moments as m
    cross join settings as s
),

final as (
    select * from weighted
    union all
    select * from rounding
    where abs(weighted_points) > 1e-9
)

select
    f.lead_id,
    f.moment,
    f.scored_at,
    f.component,
    f.rule_id,
    f.activity_id,
    f.occurred_at,
    f.raw_points,
    f.counted_points,
    f.decay_factor,
    f.points,
    f.weighted_points,
    s.definitions_version
from final as f
cross join settings as s
