{#- A key: never null and never twice, in one query (what `unique` and `not_null` check in
    two, each a node with its own overhead: about 50 ms per test on a small run, a scan of the
    table per test on a big one). On a column, or on `combination_of_columns`. -#}
{% test primary_key(model, column_name=none, combination_of_columns=none) %}
{{ key_violations(model, combination_of_columns or [column_name]) }}
{% endtest %}

{#- `primary_key` for a by-lead incremental model whose key includes lead_id.

    A build rewrites each lead it rebuilds whole, so a duplicate key - two rows of one lead -
    can only be among the rows of a lead rebuilt since the model's last recorded build; the
    rows of the other leads were unique when the build that wrote them was tested (a model is
    recorded only when its tests pass, so a failure is tested again on the next run). On an
    incremental build only those leads are grouped, with the rows of a null key wherever they
    are: a daily run pays for the day's leads, not for a million keys. A full refresh checks
    every row. Not for a model that also rebuilds leads without new rows (fct_sla's untouched
    episodes): plain `primary_key` there. -#}
{% test primary_key_in_rebuilt_leads(model, column_name=none, combination_of_columns=none) %}
{%- set key = combination_of_columns or [column_name] -%}
{%- if 'lead_id' not in key -%}
    {{ exceptions.raise_compiler_error("primary_key_in_rebuilt_leads needs lead_id in the key, not " ~ key | join(', ')) }}
{%- endif -%}
{{- lead_source_refs() }}
{{ key_violations(model, key, in_rebuilt_leads=not flags.FULL_REFRESH) }}
{% endtest %}
