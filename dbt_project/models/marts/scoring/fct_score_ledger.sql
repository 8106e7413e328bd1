{#- Why every score is what it is (SPEC §6): one row per contributing fit rule or activity,
    at two moments per lead: `current` (the scoring moment) and `mql` (each MQL episode).
    Per lead and moment, sum(weighted_points) = lead_score; the fit rows sum to fit_score and
    the engagement rows to engagement_score (clamp and rounding adjustments included).

    A view: the rows fixed once built come from int_score_ledger_items; what moves with the
    scoring moment (the current rows' decay, clamp and rounding) is added here when read, so a
    day of new data does not rewrite every activity's decay. The serving file holds it as a
    view too, beside copies of the tables it reads (orchestration/publish.py). -#}
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
        c.lead_score
    from {{ ref('int_lead_scores_current') }} as c
    left join fit_sums as f on c.lead_id = f.lead_id
),

ledger as (
    select {{ ledger_columns() }}
    from {{ ref('int_score_ledger_items') }}
    where moment = 'mql'
    union all
    select
        i.lead_id, i.moment, m.scored_at, i.component, i.rule_id, i.activity_id, i.occurred_at,
        i.raw_points, i.counted_points, i.decay_factor, i.points, i.weighted_points
    from {{ ref('int_score_ledger_items') }} as i
    inner join current_moments as m on i.lead_id = m.lead_id
    where i.moment = 'current' and i.component = 'fit'
    union all
    select
        i.lead_id, i.moment, m.scored_at, i.component, i.rule_id, i.activity_id, i.occurred_at,
        i.raw_points, i.counted_points,
        {{ ledger_decay_factor('i.occurred_at', 'm.scored_at') }},
        i.counted_points * {{ ledger_decay_factor('i.occurred_at', 'm.scored_at') }},
        i.counted_points * {{ ledger_decay_factor('i.occurred_at', 'm.scored_at') }} * s.engagement_weight
    from {{ ref('int_score_ledger_items') }} as i
    inner join current_moments as m on i.lead_id = m.lead_id
    cross join settings as s
    where i.moment = 'current' and i.component = 'engagement' and m.explains_engagement
    union all
    {{ ledger_adjustment_rows('current_moments', 'settings') }}
)

select l.*, s.definitions_version
from ledger as l
cross join settings as s
