{#- What each MQL threshold would have given on this history, with every other rule as in
    force (SPEC §9): MQLs, MQLs per week, the SQLs among them (precision), the share of all
    inbound SQLs they include (recall), the same for the outcome the definitions name
    (calibration.outcome: a won-only history has no SQL), and the weekly workload per rep. At the threshold in
    force it reproduces the MQL count of fct_lead_lifecycle. -#}
with peaks as (
    select * from {{ ref('fct_lead_score_peaks') }}
),

thresholds as (
    select * from {{ ref('def_backtest_thresholds') }}
),

qualifications as (
    select * from {{ ref('stg_crm__qualifications') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

history as (
    select
        ({{ dbt.datediff('min(p.created_week_start_date)',
                         "cast(" ~ dbt.date_trunc('week', utc_to_local('max(a.scored_as_of_at)', 'max(s.reporting_timezone)')) ~ " as date)",
                         'day') }}) / 7 + 1 as weeks,
        cast(sum(case when p.acquisition_mode = 'inbound' and p.is_sql then 1 else 0 end) as {{ dbt.type_bigint() }}) as inbound_sqls,
        cast(sum(case when p.acquisition_mode = 'inbound' and p.reached_outcome then 1 else 0 end) as {{ dbt.type_bigint() }})
            as inbound_outcomes
    from peaks as p
    cross join as_of as a
    cross join settings as s
),

reps as (
    select count(distinct rep_id) as reps from qualifications
),

replayed as (
    select
        t.threshold,
        p.is_mql,
        p.is_sql,
        p.reached_outcome,
        p.acquisition_mode = 'inbound' and not p.is_excluded
            and {{ meets_mql_rule('p.fit_score', 'p.peak_engagement_score', 'p.has_fast_track_activity',
                                  't.threshold', 's.mql_min_fit', 's.fit_weight', 's.engagement_weight') }}
            as would_be_mql
    from peaks as p
    cross join thresholds as t
    cross join settings as s
),

counted as (
    select
        threshold,
        cast(sum(case when would_be_mql then 1 else 0 end) as {{ dbt.type_bigint() }}) as mqls,
        cast(sum(case when would_be_mql and is_sql then 1 else 0 end) as {{ dbt.type_bigint() }}) as sqls_among_mqls,
        cast(sum(case when would_be_mql and reached_outcome then 1 else 0 end) as {{ dbt.type_bigint() }}) as outcomes_among_mqls,
        cast(sum(case when would_be_mql and not is_mql then 1 else 0 end) as {{ dbt.type_bigint() }}) as new_mqls,
        cast(sum(case when is_mql and not would_be_mql then 1 else 0 end) as {{ dbt.type_bigint() }}) as lost_mqls
    from replayed
    group by threshold
),

final as (
    select
        r.threshold,
        r.threshold = s.mql_threshold as is_threshold_in_force,
        r.mqls,
        h.weeks as history_weeks,
        {{ safe_divide('1.0 * r.mqls', 'h.weeks') }} as mqls_per_week,
        r.sqls_among_mqls,
        {{ safe_divide('1.0 * r.sqls_among_mqls', 'r.mqls') }} as precision,
        h.inbound_sqls,
        {{ safe_divide('1.0 * r.sqls_among_mqls', 'h.inbound_sqls') }} as recall,
        rp.reps,
        {{ safe_divide(safe_divide('1.0 * r.mqls', 'h.weeks'), 'rp.reps') }} as mqls_per_week_per_rep,
        s.calibration_outcome as outcome,
        r.outcomes_among_mqls,
        {{ safe_divide('1.0 * r.outcomes_among_mqls', 'r.mqls') }} as outcome_precision,
        h.inbound_outcomes,
        {{ safe_divide('1.0 * r.outcomes_among_mqls', 'h.inbound_outcomes') }} as outcome_recall,
        r.new_mqls,
        r.lost_mqls,
        s.mql_min_fit,
        s.definitions_version
    from counted as r
    cross join history as h
    cross join reps as rp
    cross join settings as s
)

select * from final
