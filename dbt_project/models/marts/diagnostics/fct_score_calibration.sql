{#- How well the lead score ranks leads by their real outcome (SPEC §9): conversion per score
    decile and per score band of the leakage-free evaluation set, lift against the base rate,
    cumulative share of conversions captured from the top down, and the AUC computed from
    ranks (Mann-Whitney, ties at their average rank). -#}
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
        sum(case when converted_to_sql then 1 else 0 end) as sql_conversions,
        sum(case when converted_to_opportunity then 1 else 0 end) as opportunity_conversions,
        min(created_at) as evaluated_created_from,
        max(created_at) as evaluated_created_to
    from evaluated
),

status_counts as (
    select
        sum(case when evaluation_status = 'too_young' then 1 else 0 end) as too_young_leads,
        sum(case when evaluation_status = 'excluded' then 1 else 0 end) as excluded_leads
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
        (sum(case when r.converted_to_sql then r.rank_low + (r.tied - 1) / 2.0 end)
            - c.sql_conversions * (c.sql_conversions + 1) / 2.0)
            / nullif(1.0 * c.sql_conversions * (c.evaluated_leads - c.sql_conversions), 0) as auc_sql,
        (sum(case when r.converted_to_opportunity then r.rank_low + (r.tied - 1) / 2.0 end)
            - c.opportunity_conversions * (c.opportunity_conversions + 1) / 2.0)
            / nullif(1.0 * c.opportunity_conversions * (c.evaluated_leads - c.opportunity_conversions), 0)
            as auc_opportunity
    from ranked as r
    cross join counts as c
    group by c.sql_conversions, c.opportunity_conversions, c.evaluated_leads
),

bucketed as (
    select
        'decile' as bucket_type,
        decile as bucket_order,
        'D' || cast(decile as {{ dbt.type_string() }}) as bucket,
        lead_score,
        converted_to_sql,
        converted_to_opportunity
    from ranked
    union all
    select
        'band',
        cast(n_bands - band_index as {{ dbt.type_int() }}),
        cast(band_index * band_width as {{ dbt.type_string() }}) || '-'
            || cast((band_index + 1) * band_width as {{ dbt.type_string() }}),
        lead_score,
        converted_to_sql,
        converted_to_opportunity
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
        sum(case when converted_to_sql then 1 else 0 end) as sql_conversions,
        sum(case when converted_to_opportunity then 1 else 0 end) as opportunity_conversions
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
        c.evaluated_leads,
        sc.too_young_leads,
        sc.excluded_leads,
        {{ safe_divide('1.0 * c.sql_conversions', 'c.evaluated_leads') }} as base_sql_rate,
        {{ safe_divide('1.0 * c.opportunity_conversions', 'c.evaluated_leads') }} as base_opportunity_rate,
        a.auc_sql,
        a.auc_opportunity,
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
    cross join settings as s
)

select * from final
