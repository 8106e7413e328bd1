{#- Weekly funnel KPIs at any grain (a list of segment, channel_group, acquisition_mode).
    The three weekly marts (models/marts/funnel/) are this macro, so a KPI is defined
    once; medians and rates are recomputed from rows at each grain, never averaged.
    Weeks run from the first lead or spend to the week of the data's cut-off (never past it),
    every combination present. A ratio with no denominator, or a cost ratio where no cost was
    recorded, is NULL - never a 0 that reads as "free" or "0 %". Money is fixed-scale. -#}
{% macro funnel_weekly_kpis(grain) %}
{%- set g = grain | join(', ') -%}
{%- set g_comma = (g ~ ',') if grain else '' -%}
{%- set join_on = [] -%}
{%- for c in grain -%}{%- do join_on.append('k.' ~ c ~ ' = m.' ~ c) -%}{%- endfor -%}
{%- set join_cond = (' and ' ~ (join_on | join(' and '))) if grain else '' -%}

with events as (
    select * from {{ ref('int_lead_funnel_events') }}
),

opportunities as (
    select * from {{ ref('int_opportunity_amounts') }}
),

spend as (
    select * from {{ ref('int_weekly_spend_allocated') }}
),

sla as (
    select * from {{ ref('fct_sla') }}
),

mql_handovers as (
    select * from {{ ref('int_mql_handovers') }}
),

windows as (
    select * from {{ ref('def_maturity_windows') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

as_of as (
    select * from {{ ref('int_scoring_as_of') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

as_of_local as (
    select scored_as_of_date as as_of_date, scored_as_of_week_start_date as as_of_week
    from as_of
),

bounds as (
    select
        min(w.week_start_date) as first_week,
        max(a.as_of_week) as last_week
    from (
        select created_week as week_start_date from events
        union all
        select created_week from opportunities
        union all
        select week_start_date from spend
    ) as w
    cross join as_of_local as a
),

weeks as (
    select distinct c.week_start_date
    from calendar as c
    cross join bounds as b
    where c.week_start_date between b.first_week and b.last_week
),

dimension_values as (
    select distinct {{ g if grain else "1 as _all" }} from events
    {%- if grain %}
    union
    select distinct {{ g }} from spend
    union
    select distinct {{ g }} from opportunities
    {%- endif %}
),

grid as (
    select w.week_start_date{{ ', ' ~ (grain | map('string') | join(', ')) if grain else '' }}
    from weeks as w
    cross join dimension_values
),

leads_created as (
    select created_week as week_start_date, {{ g_comma }} count(*) as leads
    from events group by created_week{{ ', ' ~ g if grain else '' }}
),

mqls as (
    select
        mql_week as week_start_date, {{ g_comma }}
        count(*) as mqls,
        {{ percentile('days_lead_to_mql', 0.5) }} as median_days_lead_to_mql,
        {{ percentile('days_lead_to_mql', 0.9) }} as p90_days_lead_to_mql
    from events where mql_week is not null
    group by mql_week{{ ', ' ~ g if grain else '' }}
),

-- MQL cohorts per episode: the leads' first MQLs and the returning ones side by side, each
-- converting for itself (int_mql_handovers).
mql_cohorts as (
    select
        mql_week_start_date as week_start_date, {{ g_comma }}
        sum(case when is_first_mql then 1 else 0 end) as mql_cohort_size,
        sum(case when is_first_mql and is_sql_converted then 1 else 0 end) as mql_cohort_sqls,
        sum(case when is_first_mql and is_customer_converted then 1 else 0 end) as mql_cohort_customers,
        sum(case when is_returning_mql then 1 else 0 end) as returning_mql_cohort_size,
        sum(case when is_returning_mql and is_sql_converted then 1 else 0 end) as returning_mql_cohort_sqls,
        sum(case when is_returning_mql and is_customer_converted then 1 else 0 end) as returning_mql_cohort_customers
    from mql_handovers
    group by mql_week_start_date{{ ', ' ~ g if grain else '' }}
),

sqls as (
    select
        sql_week as week_start_date, {{ g_comma }}
        count(*) as sqls,
        sum(case when acquisition_mode = 'inbound' then 1 else 0 end) as inbound_sqls,
        count(*) as sql_cohort_size,
        sum(case when is_sql_to_opportunity_converted then 1 else 0 end) as sql_cohort_opportunities,
        {{ percentile('days_mql_to_sql', 0.5) }} as median_days_mql_to_sql,
        {{ percentile('days_mql_to_sql', 0.9) }} as p90_days_mql_to_sql
    from events where sql_week is not null
    group by sql_week{{ ', ' ~ g if grain else '' }}
),

opportunity_stage as (
    select
        opportunity_week as week_start_date, {{ g_comma }}
        count(*) as new_opportunities,
        count(*) as opportunity_cohort_size,
        sum(case when is_opportunity_to_won_converted then 1 else 0 end) as opportunity_cohort_wins,
        {{ percentile('days_sql_to_opportunity', 0.5) }} as median_days_sql_to_opportunity,
        {{ percentile('days_sql_to_opportunity', 0.9) }} as p90_days_sql_to_opportunity
    from events where opportunity_week is not null
    group by opportunity_week{{ ', ' ~ g if grain else '' }}
),

customers as (
    select
        customer_week as week_start_date, {{ g_comma }}
        count(*) as customers,
        {{ percentile('days_opportunity_to_won', 0.5) }} as median_days_opportunity_to_won,
        {{ percentile('days_opportunity_to_won', 0.9) }} as p90_days_opportunity_to_won
    from events where customer_week is not null
    group by customer_week{{ ', ' ~ g if grain else '' }}
),

pipeline as (
    select
        created_week as week_start_date, {{ g_comma }}
        count(*) as opportunities_created,
        cast(sum(pipeline_amount) as {{ type_money() }}) as pipeline_amount,
        cast(sum(case when not is_closed then pipeline_amount else 0 end) as {{ type_money() }})
            as open_pipeline_amount
    from opportunities
    group by created_week{{ ', ' ~ g if grain else '' }}
),

won as (
    select
        closed_week as week_start_date, {{ g_comma }}
        count(*) as deals_won,
        cast(sum(won_amount) as {{ type_money() }}) as won_amount
    from opportunities where is_won and closed_week is not null
    group by closed_week{{ ', ' ~ g if grain else '' }}
),

-- No cost row: spend unknown (NULL), not 0.
costs as (
    select
        week_start_date, {{ g_comma }}
        cast(sum(spend_amount) as {{ type_money() }}) as spend_amount,
        cast(sum(case when acquisition_mode = 'inbound' then spend_amount end) as {{ type_money() }})
            as inbound_spend_amount
    from spend group by week_start_date{{ ', ' ~ g if grain else '' }}
),

handovers as (
    select
        mql_week_start_date as week_start_date, {{ g_comma }}
        count(*) as mql_episodes,
        sum(case when is_first_mql then 1 else 0 end) as first_mql_handovers,
        sum(case when is_touched then 1 else 0 end) as sla_touched,
        sum(case when is_within_target then 1 else 0 end) as sla_within_target,
        sum(case when is_target_missed then 1 else 0 end) as sla_target_missed,
        sum(case when is_within_limit then 1 else 0 end) as sla_within_limit,
        sum(case when is_limit_breached then 1 else 0 end) as sla_limit_breached,
        sum(case when is_never_touched then 1 else 0 end) as sla_never_touched,
        sum(case when is_pending then 1 else 0 end) as sla_pending,
        sum(case when sla_status = 'unmeasured' then 1 else 0 end) as sla_unmeasured,
        {{ percentile('hours_to_first_touch', 0.5) }} as median_hours_to_first_touch
    from sla
    group by mql_week_start_date{{ ', ' ~ g if grain else '' }}
),

joined as (
    select
        k.*,
        cast(coalesce(lc.leads, 0) as {{ dbt.type_bigint() }}) as leads,
        cast(coalesce(m.mqls, 0) as {{ dbt.type_bigint() }}) as mqls,
        cast(coalesce(sq.sqls, 0) as {{ dbt.type_bigint() }}) as sqls,
        cast(coalesce(sq.inbound_sqls, 0) as {{ dbt.type_bigint() }}) as inbound_sqls,
        cast(coalesce(os.new_opportunities, 0) as {{ dbt.type_bigint() }}) as new_opportunities,
        cast(coalesce(cu.customers, 0) as {{ dbt.type_bigint() }}) as customers,
        cast(coalesce(p.opportunities_created, 0) as {{ dbt.type_bigint() }}) as opportunities_created,
        coalesce(p.pipeline_amount, cast(0 as {{ type_money() }})) as pipeline_amount,
        coalesce(p.open_pipeline_amount, cast(0 as {{ type_money() }})) as open_pipeline_amount,
        cast(coalesce(wo.deals_won, 0) as {{ dbt.type_bigint() }}) as deals_won,
        coalesce(wo.won_amount, cast(0 as {{ type_money() }})) as won_amount,
        cast(coalesce(mc.mql_cohort_size, 0) as {{ dbt.type_bigint() }}) as mql_cohort_size,
        cast(coalesce(mc.mql_cohort_sqls, 0) as {{ dbt.type_bigint() }}) as mql_cohort_sqls,
        cast(coalesce(mc.mql_cohort_customers, 0) as {{ dbt.type_bigint() }}) as mql_cohort_customers,
        cast(coalesce(mc.returning_mql_cohort_size, 0) as {{ dbt.type_bigint() }}) as returning_mql_cohort_size,
        cast(coalesce(mc.returning_mql_cohort_sqls, 0) as {{ dbt.type_bigint() }}) as returning_mql_cohort_sqls,
        cast(coalesce(mc.returning_mql_cohort_customers, 0) as {{ dbt.type_bigint() }}) as returning_mql_cohort_customers,
        cast(coalesce(sq.sql_cohort_size, 0) as {{ dbt.type_bigint() }}) as sql_cohort_size,
        cast(coalesce(sq.sql_cohort_opportunities, 0) as {{ dbt.type_bigint() }}) as sql_cohort_opportunities,
        cast(coalesce(os.opportunity_cohort_size, 0) as {{ dbt.type_bigint() }}) as opportunity_cohort_size,
        cast(coalesce(os.opportunity_cohort_wins, 0) as {{ dbt.type_bigint() }}) as opportunity_cohort_wins,
        co.spend_amount,
        co.inbound_spend_amount,
        m.median_days_lead_to_mql,
        m.p90_days_lead_to_mql,
        sq.median_days_mql_to_sql,
        sq.p90_days_mql_to_sql,
        os.median_days_sql_to_opportunity,
        os.p90_days_sql_to_opportunity,
        cu.median_days_opportunity_to_won,
        cu.p90_days_opportunity_to_won,
        cast(coalesce(h.mql_episodes, 0) as {{ dbt.type_bigint() }}) as mql_episodes,
        cast(coalesce(h.first_mql_handovers, 0) as {{ dbt.type_bigint() }}) as first_mql_handovers,
        cast(coalesce(h.sla_touched, 0) as {{ dbt.type_bigint() }}) as sla_touched,
        cast(coalesce(h.sla_within_target, 0) as {{ dbt.type_bigint() }}) as sla_within_target,
        cast(coalesce(h.sla_target_missed, 0) as {{ dbt.type_bigint() }}) as sla_target_missed,
        cast(coalesce(h.sla_within_limit, 0) as {{ dbt.type_bigint() }}) as sla_within_limit,
        cast(coalesce(h.sla_limit_breached, 0) as {{ dbt.type_bigint() }}) as sla_limit_breached,
        cast(coalesce(h.sla_never_touched, 0) as {{ dbt.type_bigint() }}) as sla_never_touched,
        cast(coalesce(h.sla_pending, 0) as {{ dbt.type_bigint() }}) as sla_pending,
        cast(coalesce(h.sla_unmeasured, 0) as {{ dbt.type_bigint() }}) as sla_unmeasured,
        h.median_hours_to_first_touch
    from grid as k
    {%- for name in ['leads_created as lc', 'mqls as m', 'mql_cohorts as mc', 'sqls as sq', 'opportunity_stage as os', 'customers as cu', 'pipeline as p', 'won as wo', 'costs as co', 'handovers as h'] %}
    {%- set alias = name.split(' as ')[1] %}
    left join {{ name }}
        on k.week_start_date = {{ alias }}.week_start_date{{ join_cond | replace('m.', alias ~ '.') }}
    {%- endfor %}
),

{#- each cohort KPI and the transition whose window it waits for -#}
{%- set kpi_windows = [('mql_to_sql', 'mql_to_sql'), ('sql_to_opportunity', 'sql_to_opportunity'),
                       ('opportunity_to_won', 'opportunity_to_won'), ('mql_to_customer', 'mql_to_customer')] %}
{%- set by_segment = 'segment' in grain %}

-- The cohort windows of each row: its segment's, or (rows over every segment) the longest.
row_windows as (
    {%- if by_segment %}
    select
        v.segment,
        {%- for kpi, t in kpi_windows %}
        {{ maturity_days(t) }} as {{ t }}_days{{ ',' if not loop.last }}
        {%- endfor %}
    from (select distinct segment from dimension_values) as v
    cross join settings as s
    left join windows as w on v.segment = w.segment
    {%- else %}
    select
        {%- for kpi, t in kpi_windows %}
        greatest(max(s.{{ t }}_maturity_days), coalesce(max(w.{{ t }}_days), 0)) as {{ t }}_days{{ ',' if not loop.last }}
        {%- endfor %}
    from settings as s
    left join windows as w on 1 = 1
    {%- endif %}
),

-- A cohort rate is shown once every lead of the week's cohort had its full window.
maturity as (
    select
        w.week_start_date,
        {%- if by_segment %}
        r.segment,
        {%- endif %}
        {%- for kpi, t in kpi_windows %}
        cast({{ dbt.dateadd('day', '7 + r.' ~ t ~ '_days', 'w.week_start_date') }} as date) <= a.as_of_date
            as is_{{ kpi }}_mature,
        {%- endfor %}
        cast({{ dbt.dateadd('day', 6, 'w.week_start_date') }} as date) <= a.as_of_date
            as is_complete_week
    from weeks as w
    cross join row_windows as r
    cross join as_of_local as a
),

final as (
    select
        j.week_start_date,
        {{ iso_week_label('j.week_start_date') }} as iso_week,
        {%- for c in grain %}
        j.{{ c }},
        {%- endfor %}
        j.leads,
        j.mqls,
        j.sqls,
        j.inbound_sqls,
        j.new_opportunities,
        j.customers,
        j.opportunities_created,
        j.pipeline_amount,
        j.open_pipeline_amount,
        j.deals_won,
        j.won_amount,
        j.mql_cohort_size,
        j.mql_cohort_sqls,
        case when mat.is_mql_to_sql_mature then {{ safe_divide('1.0 * j.mql_cohort_sqls', 'j.mql_cohort_size') }} end
            as mql_to_sql_cohort_rate,
        mat.is_mql_to_sql_mature,
        j.sql_cohort_size,
        j.sql_cohort_opportunities,
        case when mat.is_sql_to_opportunity_mature then {{ safe_divide('1.0 * j.sql_cohort_opportunities', 'j.sql_cohort_size') }} end
            as sql_to_opportunity_cohort_rate,
        mat.is_sql_to_opportunity_mature,
        j.opportunity_cohort_size,
        j.opportunity_cohort_wins,
        case when mat.is_opportunity_to_won_mature then {{ safe_divide('1.0 * j.opportunity_cohort_wins', 'j.opportunity_cohort_size') }} end
            as opportunity_to_won_cohort_rate,
        mat.is_opportunity_to_won_mature,
        j.mql_cohort_customers,
        case when mat.is_mql_to_customer_mature then {{ safe_divide('1.0 * j.mql_cohort_customers', 'j.mql_cohort_size') }} end
            as mql_to_customer_cohort_rate,
        mat.is_mql_to_customer_mature,
        j.returning_mql_cohort_size,
        j.returning_mql_cohort_sqls,
        case when mat.is_mql_to_sql_mature then {{ safe_divide('1.0 * j.returning_mql_cohort_sqls', 'j.returning_mql_cohort_size') }} end
            as returning_mql_to_sql_cohort_rate,
        j.returning_mql_cohort_customers,
        case when mat.is_mql_to_customer_mature then {{ safe_divide('1.0 * j.returning_mql_cohort_customers', 'j.returning_mql_cohort_size') }} end
            as returning_mql_to_customer_cohort_rate,
        {{ safe_divide('1.0 * j.inbound_sqls', 'j.mqls') }} as sql_per_mql_period_ratio,
        {{ safe_divide('1.0 * j.new_opportunities', 'j.sqls') }} as opportunity_per_sql_period_ratio,
        {{ safe_divide('1.0 * j.customers', 'j.new_opportunities') }} as customer_per_opportunity_period_ratio,
        j.spend_amount,
        j.inbound_spend_amount,
        {{ money_per('j.spend_amount', 'j.leads') }} as cost_per_lead,
        {{ money_per('j.inbound_spend_amount', 'j.mqls') }} as cost_per_mql,
        {{ money_per('j.spend_amount', 'j.sqls') }} as cost_per_sql,
        {{ money_per('j.spend_amount', 'j.new_opportunities') }} as cost_per_opportunity,
        {{ money_per('j.spend_amount', 'j.customers') }} as cost_per_customer,
        j.median_days_lead_to_mql,
        j.p90_days_lead_to_mql,
        j.median_days_mql_to_sql,
        j.p90_days_mql_to_sql,
        j.median_days_sql_to_opportunity,
        j.p90_days_sql_to_opportunity,
        j.median_days_opportunity_to_won,
        j.p90_days_opportunity_to_won,
        j.mql_episodes,
        j.first_mql_handovers,
        j.sla_touched,
        j.sla_within_target,
        j.sla_target_missed,
        j.sla_within_limit,
        j.sla_limit_breached,
        j.sla_never_touched,
        j.sla_pending,
        j.sla_unmeasured,
        {{ safe_divide('1.0 * j.sla_within_target', 'j.sla_within_target + j.sla_target_missed') }}
            as sla_target_compliance_rate,
        {{ safe_divide('1.0 * j.sla_within_limit', 'j.sla_within_limit + j.sla_limit_breached') }}
            as sla_limit_compliance_rate,
        j.median_hours_to_first_touch,
        mat.is_complete_week,
        s.reporting_currency,
        s.definitions_version
    from joined as j
    cross join settings as s
    inner join maturity as mat on j.week_start_date = mat.week_start_date
        {%- if by_segment %} and j.segment = mat.segment{% endif %}
)

select * from final
{% endmacro %}
