{{ config(meta={'dagster': {'ref': {'name': 'fct_funnel_summary_weekly'}}}) }}
{#- Summing fct_funnel_weekly over segments, channels and modes gives
    fct_funnel_summary_weekly, week by week, for every additive column. -#}
{%- set additive = ['leads', 'mqls', 'sqls', 'new_opportunities', 'customers',
    'opportunities_created', 'deals_won', 'mql_cohort_size', 'mql_cohort_sqls',
    'sql_cohort_size', 'sql_cohort_opportunities', 'opportunity_cohort_size',
    'opportunity_cohort_wins', 'mql_cohort_customers', 'mql_episodes', 'first_mql_handovers',
    'inbound_sqls', 'sla_touched', 'sla_within_target', 'sla_target_missed', 'sla_within_limit',
    'sla_limit_breached', 'sla_never_touched', 'sla_pending', 'sla_unmeasured'] -%}
{#- money is fixed-scale: the sums are exact, and so is the comparison (NULL: no cost) -#}
{%- set amounts = ['pipeline_amount', 'open_pipeline_amount', 'won_amount', 'spend_amount',
    'inbound_spend_amount'] -%}
with weekly as (
    select
        week_start_date,
        {%- for c in additive + amounts %}
        sum({{ c }}) as {{ c }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_funnel_weekly') }}
    group by week_start_date
)

select s.week_start_date
from {{ ref('fct_funnel_summary_weekly') }} as s
full outer join weekly as w on s.week_start_date = w.week_start_date
where s.week_start_date is null or w.week_start_date is null
{%- for c in additive %}
    or s.{{ c }} <> w.{{ c }}
{%- endfor %}
{%- for c in amounts %}
    or s.{{ c }} is distinct from w.{{ c }}
{%- endfor %}
