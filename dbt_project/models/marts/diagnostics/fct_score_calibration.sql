{#- How well the lead score ranks leads by their real outcome (SPEC §9): conversion per score
    decile and per score band of the leakage-free evaluation set, lift against the base rate,
    cumulative share of conversions captured from the top down, and the AUC computed from
    ranks (Mann-Whitney, ties at their average rank). SQL and opportunity always; the
    outcome the definitions name (`calibration.outcome`) in the outcome_* columns, each lead
    weighted by its outcome_value (1, or the amount won for won_amount). -#}
with evaluation as (
    select * from {{ ref('int_scoring_evaluation') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

evaluated as (
    select * from evaluation where evaluation_status = 'evaluated'
),

counts as (
    select
        count(*) as evaluated_leads,
        cast(sum(case when converted_to_sql then 1 else 0 end) as {{ dbt.type_bigint() }}) as sql_conversions,
        cast(sum(case when converted_to_opportunity then 1 else 0 end) as {{ dbt.type_bigint() }}) as opportunity_conversions,
        cast(sum(case when outcome_reached then 1 else 0 end) as {{ dbt.type_bigint() }}) as outcome_conversions,
        sum(outcome_value) as outcome_value,
        min(created_at) as evaluated_created_from,
        max(created_at) as evaluated_created_to
    from evaluated
),

status_counts as (
    select
        cast(sum(case when evaluation_status = 'too_young' then 1 else 0 end) as {{ dbt.type_bigint() }}) as too_young_leads,
        cast(sum(case when evaluation_status = 'excluded' then 1 else 0 end) as {{ dbt.type_bigint() }}) as excluded_leads
    from evaluation
),

ranked as (
    select
        e.*,
        rank() over (order by e.lead_score) as rank_low,
        count(*) over (partition by e.lead_score) as tied,
        ntile(10) over (order by e.lead_score desc, e.lead_id) as decile
    from evaluated as e
),

auc as (
    select
        (sum(case when r.converted_to_sql then r.rank_low + (r.tied - 1) / 2e0 end)
            - c.sql_conversions * (c.sql_conversions + 1) / 2e0)
            / nullif(1e0 * c.sql_conversions * (c.evaluated_leads - c.sql_conversions), 0) as auc_sql,
        (sum(case when r.converted_to_opportunity then r.rank_low + (r.tied - 1) / 2e0 end)
            - c.opportunity_conversions * (c.opportunity_conversions + 1) / 2e0)
            / nullif(1e0 * c.opportunity_conversions * (c.evaluated_leads - c.opportunity_conversions), 0)
            as auc_opportunity
    from ranked as r
    cross join counts as c
    group by c.sql_conversions, c.opportunity_conversions, c.evaluated_leads
),

-- The AUC weighted by outcome_value: the chance that a unit of outcome (a conversion, or a
-- unit of currency won) sits on a higher score than a lead without the outcome, ties half.
score_groups as (
    select
        lead_score,
        sum(outcome_value) as positive_weight,
        cast(sum(case when outcome_value = 0 then 1 else 0 end) as {{ dbt.type_bigint() }}) as negatives
    from evaluated
    group by lead_score
),

auc_outcome as (
    select
        {{ stable_double('sum(positive_weight * (negatives_below + 0.5e0 * negatives))
            / nullif(sum(positive_weight) * sum(negatives), 0)', 12) }} as auc_outcome
    from (
        select
            *,
            coalesce(sum(negatives) over (
                order by lead_score rows between unbounded preceding and 1 preceding), 0) as negatives_below
        from score_groups
    ) as cumulated
),

bucketed as (
    select
        'decile' as bucket_type,
        decile as bucket_order,
        'D' || cast(decile as {{ dbt.type_string() }}) as bucket,
        lead_score,
        converted_to_sql,
        converted_to_opportunity,
        outcome_reached,
        outcome_value
    from ranked
    union all
    select
        'band',
        cast(n_bands - band_index as {{ dbt.type_int() }}),
        {{ band_label('band_index', 'band_width') }},
        lead_score,
        converted_to_sql,
        converted_to_opportunity,
        outcome_reached,
        outcome_value
    from (
        select
            r.*,
            s.calibration_score_band_width as band_width,
            cast(ceil(100 / s.calibration_score_band_width) as {{ dbt.type_int() }}) as n_bands,
            least(floor(r.lead_score / s.calibration_score_band_width),
                  ceil(100 / s.calibration_score_band_width) - 1) as band_index
        from ranked as r
        cross join settings as s
    ) as banded
),

buckets as (
    select
        bucket_type,
        bucket_order,
        bucket,
        min(lead_score) as min_score,
        max(lead_score) as max_score,
        count(*) as leads,
        cast(sum(case when converted_to_sql then 1 else 0 end) as {{ dbt.type_bigint() }}) as sql_conversions,
        cast(sum(case when converted_to_opportunity then 1 else 0 end) as {{ dbt.type_bigint() }}) as opportunity_conversions,
        cast(sum(case when outcome_reached then 1 else 0 end) as {{ dbt.type_bigint() }}) as outcome_conversions,
        sum(outcome_value) as outcome_value
    from bucketed
    group by bucket_type, bucket_order, bucket
),

final as (
    select
        b.bucket_type,
        b.bucket_order,
        b.bucket,
        b.min_score,
        b.max_score,
        b.leads,
        b.sql_conversions,
        {{ safe_divide('1.0 * b.sql_conversions', 'b.leads') }} as sql_conversion_rate,
        {{ safe_divide(safe_divide('1.0 * b.sql_conversions', 'b.leads'),
                       safe_divide('1.0 * c.sql_conversions', 'c.evaluated_leads')) }} as sql_lift,
        {{ safe_divide('sum(b.sql_conversions) over (partition by b.bucket_type order by b.bucket_order rows between unbounded preceding and current row) * 1.0',
                       'c.sql_conversions') }} as cumulative_sql_capture,
        b.opportunity_conversions,
        {{ safe_divide('1.0 * b.opportunity_conversions', 'b.leads') }} as opportunity_conversion_rate,
        {{ safe_divide(safe_divide('1.0 * b.opportunity_conversions', 'b.leads'),
                       safe_divide('1.0 * c.opportunity_conversions', 'c.evaluated_leads')) }} as opportunity_lift,
        {{ safe_divide('sum(b.opportunity_conversions) over (partition by b.bucket_type order by b.bucket_order rows between unbounded preceding and current row) * 1.0',
                       'c.opportunity_conversions') }} as cumulative_opportunity_capture,
        b.outcome_conversions,
        {{ safe_divide('1.0 * b.outcome_conversions', 'b.leads') }} as outcome_rate,
        b.outcome_value,
        {{ safe_divide(safe_divide('1.0 * b.outcome_value', 'b.leads'),
                       safe_divide('1.0 * c.outcome_value', 'c.evaluated_leads')) }} as outcome_lift,
        {{ safe_divide('sum(b.outcome_value) over (partition by b.bucket_type order by b.bucket_order rows between unbounded preceding and current row) * 1.0',
                       'c.outcome_value') }} as cumulative_outcome_capture,
        c.evaluated_leads,
        sc.too_young_leads,
        sc.excluded_leads,
        {{ safe_divide('1.0 * c.sql_conversions', 'c.evaluated_leads') }} as base_sql_rate,
        {{ safe_divide('1.0 * c.opportunity_conversions', 'c.evaluated_leads') }} as base_opportunity_rate,
        a.auc_sql,
        a.auc_opportunity,
        s.calibration_outcome as outcome,
        s.calibration_outcome_window_days as outcome_window_days,
        {{ safe_divide('1.0 * c.outcome_conversions', 'c.evaluated_leads') }} as base_outcome_rate,
        ao.auc_outcome,
        s.calibration_horizon_days as horizon_days,
        s.mql_to_sql_maturity_days as sql_window_days,
        s.mql_to_sql_maturity_days + s.sql_to_opportunity_maturity_days as opportunity_window_days,
        c.evaluated_created_from,
        c.evaluated_created_to,
        s.definitions_version
    from buckets as b
    cross join counts as c
    cross join status_counts as sc
    cross join auc as a
    cross join auc_outcome as ao
    cross join settings as s
)

select * from final
