{#- The sales-feedback loop: what sales decided about marketing's MQLs, by channel, segment,
    score band and fit band at the MQL, decision and reason, and - for the undecided ones -
    how old they are (0-7, 8-30, 31-90, over 90 days). Where marketing sends leads that sales
    does not want shows as a high rejection share in a channel, segment or band; a rejection
    rate that falls as the score rises says the score ranks well, one that does not says a
    threshold or rule is off (see fct_scoring_suggestions). -#}
with decisions as (
    select * from {{ ref('int_mql_sales_decisions') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

banded as (
    select
        *,
        coalesce({{ band_label('score_band_index', 'band_width') }}, '(not scored)') as score_band,
        {{ band_label('fit_band_index', 'band_width') }} as fit_band,
        case
            when decision <> 'undecided' then null
            when undecided_age_days <= 7 then '0-7 days'
            when undecided_age_days <= 30 then '8-30 days'
            when undecided_age_days <= 90 then '31-90 days'
            else 'over 90 days'
        end as undecided_age
    from decisions
),

final as (
    select
        b.channel_group,
        b.segment,
        b.score_band,
        b.fit_band,
        b.decision,
        coalesce(b.decision_reason, '') as decision_reason,
        coalesce(b.undecided_age, '') as undecided_age,
        count(*) as mqls,
        {{ percentile('b.days_to_decision', 0.5) }} as median_days_to_decision,
        s.definitions_version
    from banded as b
    cross join settings as s
    group by b.channel_group, b.segment, b.score_band, b.fit_band, b.decision,
        coalesce(b.decision_reason, ''), coalesce(b.undecided_age, ''), s.definitions_version
)

select * from final
