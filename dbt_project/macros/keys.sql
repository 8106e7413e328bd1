{#- The rows breaking the key `key` (a list of columns) of `model`: one per duplicated or
    null key, with its row count. `in_rebuilt_leads`: group only the leads a by-lead build
    rebuilt (and every row of a null key). `nulls_allowed`: only duplicates break it (a
    grain whose columns may be null, unique_combination_of_columns). The query of the tests
    primary_key, primary_key_in_rebuilt_leads (tests/generic/primary_key.sql) and
    unique_combination_of_columns. -#}
{% macro key_violations(model, key, in_rebuilt_leads=false, nulls_allowed=false) -%}
{%- set null_key = key | join(' is null or ') ~ ' is null' -%}
select {{ key | join(', ') }}, count(*) as n_records
from {{ model }}
{%- if in_rebuilt_leads %}
where lead_id in ({{ leads_to_rebuild(model) }}){% if not nulls_allowed %} or {{ null_key }}{% endif %}
{%- endif %}
group by {{ key | join(', ') }}
having count(*) > 1{% if not nulls_allowed %} or {{ null_key }}{% endif %}
{%- endmacro %}
