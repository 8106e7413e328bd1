{#- A cohort window in days for a transition (mql_to_sql, sql_to_opportunity,
    opportunity_to_won, mql_to_customer): the lead's segment window (def_maturity_windows,
    alias `windows`, left-joined on the segment) or the default (def_settings, `settings`). -#}
{% macro maturity_days(transition, windows='w', settings='s') -%}
    coalesce({{ windows }}.{{ transition }}_days, {{ settings }}.{{ transition }}_maturity_days)
{%- endmacro %}
