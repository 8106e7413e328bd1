{#- The weekly funnel by segment only, for the report's segment section and for BI: one row
    per week and segment, the KPIs of fct_funnel_weekly (listed there) recomputed from rows at
    this grain - cohort rates and medians are never averaged from the finer rows. -#}
{{ funnel_weekly_kpis(grain=['segment']) }}
