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
    {{ ledger_rule_rows('current_moments', 'settings') }}
    union all
    {{ ledger_adjustment_rows('current_moments', 'settings') }}
)

select l.*, s.definitions_version
from ledger as l
cross join settings as s
