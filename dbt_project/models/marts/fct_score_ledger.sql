{#- Why every score is what it is (SPEC §6): one row per contributing fit rule or activity,
    at two moments per lead: `current` (the scoring moment) and `mql` (each MQL episode).
    Per lead and moment, sum(weighted_points) = lead_score; the fit rows sum to fit_score and
    the engagement rows to engagement_score (clamp and rounding adjustments included). -#}
with scored as (
    select * from {{ ref('int_activities_scored') }}
),

current_scores as (
    select * from {{ ref('int_lead_scores_current') }}
),

last_activity as (
    select * from {{ ref('int_lead_last_activity') }}
),

mql_episodes as (
    select * from {{ ref('int_lead_mql_episodes') }}
),

fit_matches as (
    select * from {{ ref('int_lead_fit_matches') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- The moments to explain: now, and each MQL.
moments as (
    select
        c.lead_id,
        'current' as moment,
        c.scored_as_of_at as scored_at,
        cast(null as {{ dbt.type_int() }}) as mql_episode,
        c.fit_score,
        c.engagement_score,
        c.lead_score
    from current_scores as c
    union all
    select
        lead_id,
        'mql',
        mql_at,
        mql_episode,
        mql_fit_score,
        mql_engagement_score,
        mql_lead_score
    from mql_episodes
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
    inner join fit_matches as r on m.lead_id = r.lead_id
),

-- Current moment: the activities of the lead's current engagement episode.
current_activities as (
    select
        s.lead_id,
        'current' as moment,
        c.scored_as_of_at as scored_at,
        s.activity_id,
        s.activity_type,
        s.occurred_at,
        s.rule_points,
        s.counted_points
    from scored as s
    inner join current_scores as c on s.lead_id = c.lead_id
    inner join last_activity as last_episode
        on s.lead_id = last_episode.lead_id and s.score_episode = last_episode.score_episode
    where c.engagement_score > 0
),

mql_activities as (
    select
        s.lead_id,
        'mql' as moment,
        m.mql_at as scored_at,
        s.activity_id,
        s.activity_type,
        s.occurred_at,
        s.rule_points,
        s.counted_points
    from scored as s
    inner join mql_episodes as m
        on s.lead_id = m.lead_id
        and s.score_episode = m.score_episode
        and (s.occurred_at < m.mql_at
            or (s.occurred_at = m.mql_at and s.activity_id <= m.mql_activity_id))
),

engagement_rows as (
    select
        a.lead_id,
        a.moment,
        a.scored_at,
        'engagement' as component,
        a.activity_type as rule_id,
        a.activity_id,
        a.occurred_at,
        a.rule_points as raw_points,
        a.counted_points,
        power(0.5, {{ dbt.datediff('a.occurred_at', 'a.scored_at', 'second') }} / 86400.0 / s.half_life_days) as decay_factor,
        a.counted_points
            * power(0.5, {{ dbt.datediff('a.occurred_at', 'a.scored_at', 'second') }} / 86400.0 / s.half_life_days) as points
    from (
        select * from current_activities
        union all
        select * from mql_activities
    ) as a
    cross join settings as s
    where a.rule_points <> 0
),

component_sums as (
    select lead_id, moment, scored_at, component, sum(points) as points
    from (
        select lead_id, moment, scored_at, component, points from fit_rows
        union all
        select lead_id, moment, scored_at, component, points from engagement_rows
    ) as unioned
    group by lead_id, moment, scored_at, component
),

-- Clamping to 0..100 and rounding the lead score, made visible as rows.
adjustments as (
    select
        m.lead_id,
        m.moment,
        m.scored_at,
        c.component,
        'clamp_0_100' as rule_id,
        c.points as raw_sum,
        case when c.component = 'fit' then m.fit_score else m.engagement_score end - c.points as points
    from moments as m
    inner join component_sums as c
        on m.lead_id = c.lead_id and m.moment = c.moment and m.scored_at = c.scored_at
),

rows_with_weights as (
    select
        r.lead_id, r.moment, r.scored_at, r.component, r.rule_id, r.activity_id, r.occurred_at,
        r.raw_points, r.counted_points, r.decay_factor, r.points
    from fit_rows as r
    union all
    select
        r.lead_id, r.moment, r.scored_at, r.component, r.rule_id, r.activity_id, r.occurred_at,
        r.raw_points, r.counted_points, r.decay_factor, r.points
    from engagement_rows as r
    union all
    select
        a.lead_id, a.moment, a.scored_at, a.component, a.rule_id,
        cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_timestamp() }}),
        null, null, null, a.points
    from adjustments as a
    where abs(a.points) > 1e-9
),

weighted as (
    select
        r.*,
        r.points * case when r.component = 'fit' then s.fit_weight else s.engagement_weight end
            as weighted_points
    from rows_with_weights as r
    cross join settings as s
),

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
    select
        lead_id,
        moment,
        scored_at,
        component,
        rule_id,
        activity_id,
        occurred_at,
        raw_points,
        counted_points,
        decay_factor,
        points,
        weighted_points
    from weighted
    union all
    select * from rounding
    where abs(weighted_points) > 1e-9
)

select
    f.*,
    s.definitions_version
from final as f
cross join settings as s
