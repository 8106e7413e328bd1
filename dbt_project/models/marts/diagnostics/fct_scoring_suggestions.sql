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
with attributed as (
    select * from {{ ref('int_scoring_attribute_evidence') }}
),

valued as (
    select * from {{ ref('int_lead_attribute_values') }}
),

fit_rules as (
    select * from {{ ref('def_fit_rules') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

rules_per_attribute as (
    select attribute, {{ dbt.listagg('rule_id', "', '", "order by rule_id") }} as rule_ids
    from (select distinct rule_id, attribute from fit_rules) as r
    group by attribute
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
