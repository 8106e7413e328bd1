{#- What sales works on first: the open MQLs and SQLs ranked by expected revenue
    (fct_lead_expected_revenue), with the owner, when the lead was handed over and its SLA
    state (fct_sla, latest episode), the three largest contributions to its score now (why
    this lead: the current rows of fct_score_ledger, read through the macro that view uses,
    for the worklist's leads alone) and the next action. -#}
with expected as (
    select * from {{ ref('fct_lead_expected_revenue') }}
    where current_stage in ('mql', 'sql')
),

sla as (
    select * from {{ ref('fct_sla') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- The scoring moment of the worklist's leads only, so the ledger's rows are read for them
-- alone: through the view, every lead's current rows were joined, then filtered (at 1 M
-- leads 26.5 M scored activities instead of 8.8 M; the model alone 4.2 s instead of 3.3 s).
moments as (
    select
        c.lead_id,
        'current' as moment,
        c.scored_as_of_at as scored_at,
        c.engagement_score > 0 as explains_engagement,
        c.score_episode
    from {{ ref('int_lead_scores_current') }} as c
    where c.lead_id in (select lead_id from expected)
),

ledger as (
    {{ ledger_rule_rows('moments', 'settings') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

latest_sla as (
    {{ first_row_per('sla', 'lead_id', 'mql_episode desc') }}
),

contributions as (
    select l.lead_id, l.rule_id, {{ stable_double('sum(l.weighted_points)', 6) }} as points
    from ledger as l
    group by l.lead_id, l.rule_id
),

ranked_contributions as (
    select
        *,
        row_number() over (partition by lead_id order by points desc, rule_id) as contribution_rank
    from contributions
    where points > 0
),

why as (
    select
        lead_id,
        {{ dbt.listagg("rule_id || ' +' || cast(round(points, 1) as " ~ dbt.type_string() ~ ")",
                       "'; '", "order by contribution_rank") }} as why_this_lead
    from ranked_contributions
    where contribution_rank <= 3
    group by lead_id
),

final as (
    select
        -- unknown expected revenue (no matured history yet) last, then by score
        row_number() over (order by e.expected_revenue desc nulls last, e.lead_score desc, e.lead_id)
            as worklist_rank,
        row_number() over (partition by e.owner_id
                           order by e.expected_revenue desc nulls last, e.lead_score desc, e.lead_id)
            as owner_rank,
        e.lead_id,
        e.owner_id,
        e.segment,
        e.channel_group,
        e.current_stage,
        e.lead_score,
        e.win_probability,
        e.expected_deal_value,
        e.expected_revenue,
        s.mql_at as handed_over_at,
        {{ dbt.datediff('s.mql_at', 'a.scored_as_of_at', 'hour') }} as hours_since_handover,
        s.sla_status,
        w.why_this_lead,
        case
            when e.current_stage = 'sql' then 'open an opportunity'
            when s.sla_status = 'missed' then 'first touch overdue: call now'
            when s.sla_status = 'pending' then 'first touch: call within the SLA'
            else 'qualify: confirm need, budget, authority and timing'
        end as next_action,
        e.reporting_currency,
        e.definitions_version
    from expected as e
    cross join as_of as a
    left join latest_sla as s on e.lead_id = s.lead_id
    left join why as w on e.lead_id = w.lead_id
)

select * from final
