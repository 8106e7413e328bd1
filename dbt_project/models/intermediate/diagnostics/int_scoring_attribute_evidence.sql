{#- The evidence behind the scoring suggestions (SPEC §9), one row per attribute value: fit
    attributes' values (int_lead_attribute_values) and each prospect activity type done before
    the evaluation moment; their leads in the evaluation set, how many reached the outcome the
    definitions name (`calibration.outcome`), the log-odds against the base rate - smoothed by
    adding `calibration.smoothing_leads` leads at the base rate, so rare values are pulled
    toward 0 - and each value's information-value term. fct_scoring_suggestions turns it into
    points. -#}
with evaluation as (
    select lead_id, outcome_reached
    from {{ ref('int_scoring_evaluation') }}
    where evaluation_status = 'evaluated'
),

valued as (
    select * from {{ ref('int_lead_attribute_values') }}
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

-- What each lead earns today from the rules on the attribute.
current_fit as (
    select m.lead_id, r.attribute, sum(m.points) as points
    from fit_matches as m
    inner join (select distinct rule_id, attribute from fit_rules) as r on m.rule_id = r.rule_id
    group by m.lead_id, r.attribute
),

fit_evidence as (
    select
        'fit' as family,
        v.field_name,
        v.field_value,
        v.range_min,
        v.range_max,
        v.lead_id,
        v.outcome_reached,
        coalesce(c.points, 0) as current_points
    from valued as v
    left join current_fit as c on v.lead_id = c.lead_id and v.field_name = c.attribute
),

activity_evidence as (
    select
        'engagement' as family,
        'activity_type' as field_name,
        d.activity_type as field_value,
        cast(null as {{ dbt.type_float() }}) as range_min,
        cast(null as {{ dbt.type_float() }}) as range_max,
        e.lead_id,
        e.outcome_reached,
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
        field_name,
        field_value,
        min(range_min) as range_min,
        max(range_max) as range_max,
        count(*) as leads,
        cast(sum(case when outcome_reached then 1 else 0 end) as {{ dbt.type_bigint() }}) as conversions,
        max(current_points) as current_points
    from evidence
    group by family, field_name, field_value
),

totals as (
    select
        count(*) as evaluated_leads,
        cast(sum(case when outcome_reached then 1 else 0 end) as {{ dbt.type_bigint() }}) as conversions
    from evaluation
),

rated as (
    select
        g.*,
        {{ safe_divide('1e0 * g.conversions', 'g.leads') }} as conversion_rate,
        {{ safe_divide('1e0 * t.conversions', 't.evaluated_leads') }} as base_rate,
        (g.conversions + s.suggestion_smoothing_leads * t.conversions / nullif(1e0 * t.evaluated_leads, 0))
            / nullif(g.leads + s.suggestion_smoothing_leads, 0) as smoothed_rate,
        g.leads >= s.suggestion_min_evidence_leads as has_enough_evidence,
        -- information value terms: share of the converted and of the others with this value
        -- (half a lead added to each cell, so an empty cell stays finite); an activity type
        -- also counts the leads that did not do it, as its second value
        (g.conversions + 0.5e0) / (t.conversions + 0.5e0) as converted_share,
        (g.leads - g.conversions + 0.5e0) / (t.evaluated_leads - t.conversions + 0.5e0) as others_share,
        (t.conversions - g.conversions + 0.5e0) / (t.conversions + 0.5e0) as converted_share_without,
        (t.evaluated_leads - t.conversions - (g.leads - g.conversions) + 0.5e0)
            / (t.evaluated_leads - t.conversions + 0.5e0) as others_share_without,
        s.suggestion_min_evidence_leads,
        s.suggestion_min_information_value,
        s.calibration_outcome,
        s.definitions_version
    from grouped as g
    cross join totals as t
    cross join settings as s
),

log_odds as (
    select
        *,
        case
            when smoothed_rate > 0 and smoothed_rate < 1 and base_rate > 0 and base_rate < 1
                then ln(smoothed_rate / (1 - smoothed_rate)) - ln(base_rate / (1 - base_rate))
        end as smoothed_log_odds,
        (converted_share - others_share) * ln(converted_share / others_share)
            + case when family = 'engagement' then
                (converted_share_without - others_share_without)
                    * ln(converted_share_without / others_share_without)
              else 0 end as information_term
    from rated
),

-- An activity type is an attribute of its own (done or not); a fit attribute's values
-- together make one.
attributed as (
    select
        *,
        case when family = 'engagement' then field_value else field_name end as attribute_key
    from log_odds
)

select * from attributed
