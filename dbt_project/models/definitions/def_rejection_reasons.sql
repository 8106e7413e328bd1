{#- Rejection reasons and what each does to the lead (recycle.rejection_reasons): nurture - a
    new episode, the lead may become an MQL again; disqualify - no MQL any more in the
    episode. Reasons are matched trimmed and in lower case; unlisted ones get
    recycle.unlisted_rejections (def_settings). -#}
{%- set rows = [] -%}
{%- for reason, treatment in funnel_definitions().recycle.rejection_reasons.items() -%}
    {%- do rows.append([reason, treatment]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('reason', dbt.type_string()),
    ('treatment', dbt.type_string()),
]) }}
