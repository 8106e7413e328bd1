{#- Points the history suggests (SPEC §9), never applied automatically. For each value of a
    fit rule's field (matched or not, for range, contains, prefix and regex rules) and each
    prospect activity type: the leads of the evaluation set behind it, their SQL conversion,
    its log-odds against the base rate - smoothed by adding `suggestion_smoothing_leads` leads
    at the base rate, so rare values are pulled toward 0 - and the points that log-odds is
    worth on the current scale (the family's largest current points for its largest
    well-evidenced log-odds). -#}
with evaluation as (
    select * from {{ ref('int_scoring_evaluation') }}
    where evaluation_status = 'evaluated'
),

fit_fields as (
    select * from {{ ref('int_lead_fit_fields') }}
),

fit_rules as (
    select * from {{ ref('def_fit_rules') }}
),

fit_matches as (
    select * from {{ ref('int_lead_fit_matches') }}
),

activity_types as (
    select * from {{ ref('int_lead_evaluation_activity_types') }}
),

engagement_rules as (
    select * from {{ ref('def_engagement_rules') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

base as (
    select {{ safe_divide('1.0 * sum(case when converted_to_sql then 1 else 0 end)', 'count(*)') }} as base_rate
    from evaluation
),

rule_fields as (
    select distinct rule_id, attribute, match_type from fit_rules
),

fit_evidence as (
    select
        'fit' as family,
        r.rule_id,
        r.attribute as field_name,
        case
            when r.match_type in ('equals', 'in')
                then coalesce({{ normalise_category('f.field_value') }}, '(missing)')
            when m.lead_id is not null then 'matches'
            else 'does not match'
        end as field_value,
        e.lead_id,
        e.converted_to_sql,
        coalesce(m.points, 0) as current_points
    from evaluation as e
    cross join rule_fields as r
    left join fit_fields as f on e.lead_id = f.lead_id and r.attribute = f.field_name
    left join fit_matches as m on e.lead_id = m.lead_id and r.rule_id = m.rule_id
),

activity_evidence as (
    select
        'engagement' as family,
        d.activity_type as rule_id,
        'activity_type' as field_name,
        d.activity_type as field_value,
        e.lead_id,
        e.converted_to_sql,
        coalesce(r.points, 0) as current_points
    from activity_types as d
    inner join evaluation as e on d.lead_id = e.lead_id
    left join engagement_rules as r on d.activity_type = r.activity_type
),

evidence as (
    select * from fit_evidence
    union all
    select * from activity_evidence
),

grouped as (
    select
        family,
        rule_id,
        field_name,
        field_value,
        count(*) as leads,
        sum(case when converted_to_sql then 1 else 0 end) as sql_conversions,
        max(current_points) as current_points
    from evidence
    group by family, rule_id, field_name, field_value
),

rated as (
    select
        g.*,
        {{ safe_divide('1.0 * g.sql_conversions', 'g.leads') }} as sql_conversion_rate,
        b.base_rate,
        (g.sql_conversions + s.suggestion_smoothing_leads * b.base_rate)
            / nullif(g.leads + s.suggestion_smoothing_leads, 0) as smoothed_rate,
        g.leads >= s.suggestion_min_evidence_leads as has_enough_evidence,
        s.suggestion_min_evidence_leads,
        s.definitions_version
    from grouped as g
    cross join base as b
    cross join settings as s
),

log_odds as (
    select
        *,
        case
            when smoothed_rate > 0 and smoothed_rate < 1 and base_rate > 0 and base_rate < 1
                then ln(smoothed_rate / (1 - smoothed_rate)) - ln(base_rate / (1 - base_rate))
        end as smoothed_log_odds
    from rated
),

scaled as (
    select
        *,
        {{ safe_divide('max(abs(current_points)) over (partition by family)',
                       'max(case when has_enough_evidence then abs(smoothed_log_odds) end) over (partition by family)') }}
            as points_per_log_odds
    from log_odds
),

final as (
    select
        family,
        rule_id,
        field_name,
        field_value,
        leads,
        sql_conversions,
        sql_conversion_rate,
        base_rate,
        smoothed_rate,
        smoothed_log_odds,
        current_points,
        cast(floor(smoothed_log_odds * points_per_log_odds + 0.5) as {{ dbt.type_float() }}) as suggested_points,
        has_enough_evidence,
        case
            when not has_enough_evidence then 'too little evidence: ' || cast(leads as {{ dbt.type_string() }})
                || ' leads (fewer than ' || cast(suggestion_min_evidence_leads as {{ dbt.type_string() }}) || ')'
            else cast(leads as {{ dbt.type_string() }}) || ' leads'
        end as evidence,
        definitions_version
    from scaled
)

select * from final
