{#- Points the history suggests (SPEC §9), never applied automatically; `funnel suggest`
    writes them into a proposed definitions file.

    Fit: every value of every lead attribute - the contract's, the declared ones and the
    export's own columns no rule uses yet. Numeric attributes (every value a number, more than
    `numeric_min_distinct` of them) in quintile ranges; values of fewer than
    `calibration.min_evidence_leads` leads pooled as '(other)'; no value as '(missing)'.
    Engagement: each prospect activity type done before the evaluation moment.

    Each value: its leads in the evaluation set, how many reached the outcome the definitions
    name (`calibration.outcome`), its log-odds against the base rate - smoothed by adding
    `calibration.smoothing_leads` leads at the base rate, so rare values are pulled toward 0 -
    and the attribute's information value (how well its values separate the outcome).
    Suggested points put the log-odds on the 0-100 scale (see `scales`), whatever the rules in
    force give today: only informative attributes (information value at least
    `calibration.min_information_value`, and not redundant with a stronger one) take part. -#}
{%- set numeric_min_distinct = 10 -%}
{%- set bins = 5 -%}
with evaluation as (
    select lead_id, outcome_reached
    from {{ ref('int_scoring_evaluation') }}
    where evaluation_status = 'evaluated'
),

fit_fields as (
    select * from {{ ref('int_lead_fit_fields') }}
),

own_attributes as (
    select * from {{ ref('int_lead_attributes') }}
),

declared as (
    select * from {{ ref('def_lead_attributes') }}
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

-- The export's own columns no definition declares yet: every evaluated lead gets a row, NULL
-- when it has no value (declared ones already have theirs in int_lead_fit_fields).
undeclared_names as (
    select distinct attribute from own_attributes
    where attribute not in (select attribute from declared)
),

attribute_values as (
    select e.lead_id, e.outcome_reached, f.field_name, f.field_value
    from evaluation as e
    inner join fit_fields as f on e.lead_id = f.lead_id
    union all
    select e.lead_id, e.outcome_reached, n.attribute, a.attribute_value
    from evaluation as e
    cross join undeclared_names as n
    left join own_attributes as a on e.lead_id = a.lead_id and n.attribute = a.attribute
),

-- Each value normalised and read as a number once: the steps below group and join on them.
-- Written out once: DuckDB inlined it into its four readers, and the statement took 9.5 s
-- against 6.2 s at 1 M leads (4.8 M values).
typed as {{ materialized_cte() }} (
    select
        *,
        {{ normalise_category('field_value') }} as category,
        {{ number_or_null('field_value') }} as number_value
    from attribute_values
),

attribute_kinds as (
    select
        field_name,
        count(field_value) > 0
            and count(number_value) = count(field_value)
            and count(distinct number_value) > {{ numeric_min_distinct }} as is_numeric
    from typed
    group by field_name
),

-- Numeric attributes: quintiles of the leads with a value (ties share a quintile).
numeric_ranked as (
    select
        t.lead_id,
        t.field_name,
        t.number_value,
        floor({{ bins }} * (rank() over (partition by t.field_name order by t.number_value) - 1)
            / count(*) over (partition by t.field_name)) as bin
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name and k.is_numeric
    where t.number_value is not null
),

numeric_bins as (
    select
        field_name,
        bin,
        range_min,
        range_max,
        cast(range_min as {{ dbt.type_string() }}) || ' to ' || cast(range_max as {{ dbt.type_string() }})
            as range_label
    from (
        select field_name, bin, min(number_value) as range_min, max(number_value) as range_max
        from numeric_ranked
        group by field_name, bin
    ) as bounds
),

category_sizes as (
    select t.field_name, t.category, count(*) as leads
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name and not k.is_numeric
    group by t.field_name, t.category
),

valued as (
    select
        t.lead_id,
        t.outcome_reached,
        t.field_name,
        case
            when t.category is null then '(missing)'
            when k.is_numeric then b.range_label
            when c.leads < s.suggestion_min_evidence_leads then '(other)'
            else t.category
        end as field_value,
        case when k.is_numeric and t.number_value is not null then b.range_min end as range_min,
        case when k.is_numeric and t.number_value is not null then b.range_max end as range_max
    from typed as t
    inner join attribute_kinds as k on t.field_name = k.field_name
    cross join settings as s
    left join numeric_ranked as r
        on k.is_numeric and t.lead_id = r.lead_id and t.field_name = r.field_name
    left join numeric_bins as b on r.field_name = b.field_name and r.bin = b.bin
    left join category_sizes as c
        on not k.is_numeric and t.field_name = c.field_name and t.category = c.category
),

-- What each lead earns today from the rules on the attribute.
current_fit as (
    select m.lead_id, r.attribute, sum(m.points) as points
    from fit_matches as m
    inner join (select distinct rule_id, attribute from fit_rules) as r on m.rule_id = r.rule_id
    group by m.lead_id, r.attribute
),

rules_per_attribute as (
    select attribute, {{ dbt.listagg('rule_id', "', '", "order by rule_id") }} as rule_ids
    from (select distinct rule_id, attribute from fit_rules) as r
    group by attribute
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
),

attribute_strength as (
    select
        family,
        attribute_key,
        {{ stable_double('sum(information_term)') }} as information_value,
        max(case when has_enough_evidence then smoothed_log_odds end) as best_log_odds,
        min(case when has_enough_evidence then smoothed_log_odds end) as worst_log_odds
    from attributed
    group by family, attribute_key
),

-- Points per unit of log-odds. Fit: every informative attribute spans from its worst
-- well-evidenced value (or the base rate, if none is below it) to its best (or the base rate),
-- and those spans add up to 100 - so a proposal can give each attribute points from 0 (its
-- worst value) and the best lead reaches 100, with no sum below 0 to clamp. Engagement:
-- the positive log-odds of the informative activity types add up to 100.
-- Attributes that say the same thing: when the values of a more informative attribute fix this
-- one's for at least `calibration.redundancy_share` of the leads (a job title fixes the
-- department), its evidence is already counted by that one - adding it would count it twice.
candidate_attributes as (
    select a.attribute_key as field_name, a.information_value
    from attribute_strength as a
    cross join settings as s
    where a.family = 'fit' and a.information_value >= s.suggestion_min_information_value
),

value_pairs as (
    select
        ca.field_name as stronger,
        cb.field_name as weaker,
        a.field_value as stronger_value,
        b.field_value as weaker_value,
        count(*) as leads
    from valued as a
    inner join valued as b on a.lead_id = b.lead_id
    inner join candidate_attributes as ca on a.field_name = ca.field_name
    inner join candidate_attributes as cb on b.field_name = cb.field_name
    where ca.information_value > cb.information_value
        or (ca.information_value = cb.information_value and ca.field_name < cb.field_name)
    group by ca.field_name, cb.field_name, a.field_value, b.field_value
),

determined as (
    select stronger, weaker, 1e0 * sum(top_leads) / sum(all_leads) as determined_share
    from (
        select stronger, weaker, stronger_value, max(leads) as top_leads, sum(leads) as all_leads
        from value_pairs
        group by stronger, weaker, stronger_value
    ) as per_value
    group by stronger, weaker
),

redundant_pairs as (
    select d.*
    from determined as d
    cross join settings as s
    where d.determined_share >= s.suggestion_redundancy_share
),

redundant as (
    {{ first_row_per('redundant_pairs', 'weaker', 'determined_share desc, stronger') }}
),

scales as (
    select
        s.family,
        {{ safe_divide('100.0', stable_double("sum(case when s.information_value >= st.suggestion_min_information_value and r.weaker is null then
            greatest(s.best_log_odds, 0) - case when s.family = 'fit' then least(s.worst_log_odds, 0) else 0 end end)")) }}
            as points_per_log_odds
    from attribute_strength as s
    cross join settings as st
    left join redundant as r on s.family = 'fit' and s.attribute_key = r.weaker
    group by s.family
),

final as (
    select
        a.family,
        case when a.family = 'engagement' then a.field_value else rp.rule_ids end as rule_id,
        a.field_name,
        a.field_value,
        a.range_min,
        a.range_max,
        a.leads,
        a.conversions,
        a.conversion_rate,
        a.base_rate,
        a.smoothed_rate,
        a.smoothed_log_odds,
        st.information_value,
        st.information_value >= a.suggestion_min_information_value and rd.weaker is null as is_informative,
        rd.stronger as redundant_with,
        a.current_points,
        sc.points_per_log_odds,
        case when a.has_enough_evidence then
            cast(floor(a.smoothed_log_odds * sc.points_per_log_odds + 0.5) as {{ dbt.type_float() }})
        end as suggested_points,
        a.has_enough_evidence,
        case
            when not a.has_enough_evidence then 'too little evidence: ' || cast(a.leads as {{ dbt.type_string() }})
                || ' leads (fewer than ' || cast(a.suggestion_min_evidence_leads as {{ dbt.type_string() }}) || ')'
            else cast(a.leads as {{ dbt.type_string() }}) || ' leads'
        end as evidence,
        a.calibration_outcome as outcome,
        a.definitions_version
    from attributed as a
    inner join attribute_strength as st on a.family = st.family and a.attribute_key = st.attribute_key
    inner join scales as sc on a.family = sc.family
    left join rules_per_attribute as rp on a.family = 'fit' and a.field_name = rp.attribute
    left join redundant as rd on a.family = 'fit' and a.field_name = rd.weaker
)

select * from final
