{#- The weekly funnel, all segments, channels and modes together: one row per week, the KPIs
    of fct_funnel_weekly (listed there) recomputed from rows at this grain - cohort rates and
    medians are never averaged from the finer rows. -#}
{{ funnel_weekly_kpis(grain=[]) }}
