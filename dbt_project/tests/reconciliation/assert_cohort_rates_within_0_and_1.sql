{#- Cohort rates are shares of a cohort: within [0, 1], and NULL while immature. -#}
select week_start_date, segment, channel_group, acquisition_mode
from {{ ref('fct_funnel_weekly') }}
where mql_to_sql_cohort_rate not between 0 and 1
    or sql_to_opportunity_cohort_rate not between 0 and 1
    or opportunity_to_won_cohort_rate not between 0 and 1
    or mql_to_customer_cohort_rate not between 0 and 1
    or (not is_mql_to_sql_mature and mql_to_sql_cohort_rate is not null)
    or (not is_mql_to_customer_mature and mql_to_customer_cohort_rate is not null)
