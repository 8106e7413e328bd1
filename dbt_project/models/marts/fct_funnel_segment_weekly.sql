{#- The weekly funnel by segment only: medians (velocity) and cohort rates recomputed at this
    grain, for the report's segment section and for BI. -#}
{{ funnel_weekly_kpis(['segment']) }}
