{#- The part of the score ledger (SPEC §6) that never moves with the scoring moment: every
    row at each MQL (moment 'mql'), complete: fit rules, activities decayed to the MQL, clamp
    and rounding rows. The current moment's rows are not written here: fct_score_ledger reads
    them from int_activities_scored and int_lead_fit_matches when queried (each activity is
    written once, by the scoring pass).
    Incremental by lead, like the scoring models it reads. -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

settings as (
    select * from {{ ref('def_settings') }}
),

fit_matches as (
    select lead_id, rule_id, points
    from {{ ref('int_lead_fit_matches') }}
    {{- of_rebuilt_leads() }}
),

fit_sums as (
    select lead_id, sum(points) as fit_points
    from fit_matches
    group by lead_id
),

mql_moments as (
    select
        e.lead_id,
        'mql' as moment,
        e.mql_at as scored_at,
        e.score_episode,
        e.mql_activity_id,
        true as explains_engagement,
        e.mql_fit_score as fit_score,
        f.fit_points,
        e.mql_engagement_score as engagement_score,
        e.mql_engagement_raw as engagement_raw,
        e.mql_lead_score as lead_score
    from {{ ref('int_lead_mql_episodes') }} as e
    left join fit_sums as f on e.lead_id = f.lead_id
    {{- of_rebuilt_leads('e.lead_id') }}
),

activities as (
    select lead_id, score_episode, activity_type, activity_id, occurred_at, rule_points, counted_points
    from {{ ref('int_activities_scored') }}
    where rule_points <> 0{{ of_rebuilt_leads(keyword='and', built_at='built_at') }}
),

mql_rows as (
    select
        m.lead_id, m.moment, m.scored_at, 'fit' as component, r.rule_id,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(r.points as double) as raw_points, r.points as counted_points, 1.0 as decay_factor, r.points as points,
        r.points * s.fit_weight as weighted_points
    from mql_moments as m
    inner join fit_matches as r on m.lead_id = r.lead_id
    cross join settings as s
    union all
    -- the activities of the MQL's episode up to and including the MQL activity
    select
        m.lead_id, m.moment, m.scored_at, 'engagement', a.activity_type, a.activity_id,
        a.occurred_at, cast(a.rule_points as double), a.counted_points,
        {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }} * s.engagement_weight
    from activities as a
    inner join mql_moments as m
        on a.lead_id = m.lead_id and a.score_episode = m.score_episode
    cross join settings as s
    where a.occurred_at < m.scored_at
        or (a.occurred_at = m.scored_at and a.activity_id <= m.mql_activity_id)
    union all
    {{ ledger_adjustment_rows('mql_moments', 'settings') }}
)

-- built_at: when the build that wrote the row started (UTC); the serving publish copies the
-- rows written since its last publish
select {{ ledger_columns() }}, {{ build_stamp() }} as built_at from mql_rows
