{#- Why every score is what it is (SPEC §6): one row per contributing fit rule or activity,
    at two moments per lead: `current` (the scoring moment) and `mql` (each MQL episode).
    Per lead and moment, sum(weighted_points) = lead_score; the fit rows sum to fit_score and
    the engagement rows to engagement_score (clamp and rounding adjustments included).

    A view: the MQL moments' rows, fixed once built, come from int_score_ledger_items; the
    current moment's rows are read here from the scoring pass's own tables (the fit matches,
    the scored activities of each lead's current episode) and decayed to the scoring moment
    when read, so no activity is written a second time and a day of new data rewrites only the
    leads it touched. The serving file holds it as a view too, beside copies of the columns it
    reads (orchestration/publish.py; the `serving` meta of int_activities_scored). -#}
{{ config(materialized='view') }}

with settings as (
    select * from {{ ref('def_settings') }}
),

fit_sums as (
    select lead_id, sum(points) as fit_points
    from {{ ref('int_lead_fit_matches') }}
    group by lead_id
),

-- The current moment of every lead, with the sums its clamp rows close.
-- (not materialized: DuckDB would otherwise write out a CTE read more than once)
current_moments as {{ inline_cte() }} (
    select
        c.lead_id,
        'current' as moment,
        c.scored_as_of_at as scored_at,
        c.engagement_score > 0 as explains_engagement,
        c.fit_score,
        f.fit_points,
        c.engagement_score,
        c.engagement_raw,
        c.lead_score,
        c.score_episode
    from {{ ref('int_lead_scores_current') }} as c
    left join fit_sums as f on c.lead_id = f.lead_id
),

ledger as (
    select {{ ledger_columns() }}
    from {{ ref('int_score_ledger_items') }}
    union all
    select
        r.lead_id, m.moment, m.scored_at, 'fit', r.rule_id,
        cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_timestamp() }}),
        cast(r.points as double), r.points, 1.0, r.points, r.points * s.fit_weight
    from {{ ref('int_lead_fit_matches') }} as r
    inner join current_moments as m on r.lead_id = m.lead_id
    cross join settings as s
    union all
    -- the activities of the lead's current engagement episode
    select
        a.lead_id, m.moment, m.scored_at, 'engagement', a.activity_type, a.activity_id,
        a.occurred_at, cast(a.rule_points as double), a.counted_points,
        {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }},
        a.counted_points * {{ ledger_decay_factor('a.occurred_at', 'm.scored_at') }} * s.engagement_weight
    -- one join: at 10 M leads a second one (the episode apart) made the worklist's read spill
    from {{ ref('int_activities_scored') }} as a
    inner join current_moments as m
        on a.lead_id = m.lead_id and a.score_episode = m.score_episode
    cross join settings as s
    where a.rule_points <> 0 and m.explains_engagement
    union all
    {{ ledger_adjustment_rows('current_moments', 'settings') }}
)

select l.*, s.definitions_version
from ledger as l
cross join settings as s
