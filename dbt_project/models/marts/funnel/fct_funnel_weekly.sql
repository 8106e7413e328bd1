{#- The weekly funnel by segment, channel group and acquisition mode (SPEC §8).
    One row per week and segment, channel group and acquisition mode from the first lead or spend to the week of the data's cut-off,
    every combination present (a week with nothing is a row of zeros, not a gap). Computed
    from int_lead_funnel_events, int_opportunity_amounts, int_weekly_spend_allocated and
    fct_sla by macros/funnel/funnel_weekly_kpis.sql, shared by the three weekly marts so a
    KPI is defined once; rates and medians are recomputed from rows at this grain, never
    averaged. Formulas per column: _funnel_kpis.md.
    - stage counts, by the week the stage was entered: leads, mqls, sqls (inbound_sqls),
      new_opportunities, customers; opportunities_created, pipeline_amount,
      open_pipeline_amount, deals_won, won_amount by the deal's week
    - cohort rates, shown once the cohort's maturity window has passed:
      mql_to_sql = mql_cohort_sqls / mql_cohort_size, sql_to_opportunity,
      opportunity_to_won, mql_to_customer
    - period ratios: inbound_sqls / mqls, new_opportunities / sqls, customers / new_opportunities
    - costs: spend_amount, inbound_spend_amount; cost_per_lead|sql|opportunity|customer =
      spend_amount / count, cost_per_mql = inbound_spend_amount / mqls (NULL without cost)
    - velocity: median and p90 days lead -> MQL -> SQL -> opportunity -> won
    - SLA of the MQL handovers of the week as of the cut-off: touched, within target, missed,
      pending, never touched; target compliance = within / (within + missed)
    - is_complete_week, reporting_currency, definitions_version
-#}
{{ funnel_weekly_kpis(grain=['segment', 'channel_group', 'acquisition_mode']) }}
