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
    -- the activities of the MQL's episode up to and including the MQL activity
    {{ ledger_rule_rows('mql_moments', 'settings', fit_matches='fit_matches',
                        activities='activities', up_to_mql_activity=true) }}
    union all
    {{ ledger_adjustment_rows('mql_moments', 'settings') }}
)

-- built_at: when the build that wrote the row started (UTC); the serving publish copies the
-- rows written since its last publish
select {{ ledger_columns() }}, {{ build_stamp() }} as built_at from mql_rows
