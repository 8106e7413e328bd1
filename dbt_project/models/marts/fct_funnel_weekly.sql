{#- The weekly funnel by segment, channel group and acquisition mode (SPEC §8). -#}
{{ funnel_weekly_kpis(['segment', 'channel_group', 'acquisition_mode']) }}
