{#- The leakage-free evaluation set of the scoring (SPEC §9): one row per inbound lead.

    Each lead is scored as it stood at its evaluation moment: `calibration.horizon_days` after
    creation, or just before it became SQL (or got an opportunity) if that came sooner - from
    prospect activities strictly before that moment, never later ones, never sales actions.
    The outcomes are reaching SQL within the SQL maturity window after the horizon, an
    opportunity within the SQL and opportunity windows, and the outcome the definitions name
    (`calibration.outcome`) within its window. Leads whose windows have not all passed by the
    scoring moment of the warehouse are `too_young`; excluded leads are listed, not
    evaluated (no score makes them MQL).

    The scores and outcomes come from int_lead_evaluations (incremental by lead); only the
    status depends on the day, and is set here for every lead.
-#}
with evaluations as (
    select * from {{ ref('int_lead_evaluations') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

final as (
    select
        e.lead_id,
        e.created_at,
        case
            when e.is_excluded then 'excluded'
            when {{ dbt.dateadd('day', 's.calibration_horizon_days + greatest(s.mql_to_sql_maturity_days + s.sql_to_opportunity_maturity_days, s.calibration_outcome_window_days)', 'e.created_at') }}
                > a.scored_as_of_at then 'too_young'
            else 'evaluated'
        end as evaluation_status,
        e.horizon_at,
        e.evaluated_at,
        e.fit_score,
        e.engagement_score,
        e.lead_score,
        e.last_activity_at,
        e.sql_at,
        e.opportunity_at,
        e.sql_window_days,
        e.opportunity_window_days,
        e.converted_to_sql,
        e.converted_to_opportunity,
        e.customer_at,
        e.outcome,
        e.outcome_window_days,
        e.outcome_reached,
        e.outcome_value
    from evaluations as e
    cross join as_of as a
    cross join settings as s
)

select * from final
