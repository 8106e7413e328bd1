{#- The weekly funnel, all segments, channels and modes together: one row per week. -#}
{{ funnel_weekly_kpis([]) }}
