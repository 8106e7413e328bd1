{#- The rows breaking the key `key` (a list of columns) of `model`: one per duplicated or
    null key, with its row count. `in_rebuilt_leads`: group only the leads a by-lead build
    rebuilt (and every row of a null key). The query of the tests primary_key and
    primary_key_in_rebuilt_leads (tests/generic/primary_key.sql). -#}
{% macro key_violations(model, key, in_rebuilt_leads=false) -%}
{%- set null_key = key | join(' is null or ') ~ ' is null' -%}
select {{ key | join(', ') }}, count(*) as n_records
from {{ model }}
{%- if in_rebuilt_leads %}
where lead_id in ({{ leads_to_rebuild(model) }}) or {{ null_key }}
{%- endif %}
group by {{ key | join(', ') }}
having count(*) > 1 or {{ null_key }}
{%- endmacro %}
