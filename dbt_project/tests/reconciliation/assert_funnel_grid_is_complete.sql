{{ config(meta={'dagster': {'ref': {'name': 'fct_funnel_weekly'}}}) }}
{#- Every week has a row for every segment x channel x mode combination (zeros included):
    rows = weeks x combinations, so no week silently disappears. -#}
with counts as (
    select
        count(*) as n_rows,
        count(distinct week_start_date) as n_weeks,
        count(distinct segment || '|' || channel_group || '|' || acquisition_mode) as n_combinations
    from {{ ref('fct_funnel_weekly') }}
),

summary as (
    select count(*) as n_weeks from {{ ref('fct_funnel_summary_weekly') }}
)

select *
from counts as c
cross join summary as s
where c.n_rows <> c.n_weeks * c.n_combinations or c.n_weeks <> s.n_weeks
