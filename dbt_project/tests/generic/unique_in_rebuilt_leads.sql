{#- `unique` (on a column, or on `combination_of_columns`) for a by-lead incremental model
    whose key includes lead_id.

    A build rewrites each lead it rebuilds whole, so a duplicate key - two rows of one lead -
    can only be among the rows of a lead rebuilt since the model's last recorded build; the
    rows of the other leads were unique when the build that wrote them was tested (a model
    is recorded only when its tests pass, so a failure is tested again on the next run). On
    an incremental build only those leads are grouped: a daily run pays for the day's leads,
    not for a million keys. A full refresh checks every row. Not for a model that also
    rebuilds leads without new rows (fct_sla's untouched episodes): plain `unique` there. -#}
{% test unique_in_rebuilt_leads(model, column_name=none, combination_of_columns=none) %}
{%- set key = combination_of_columns or [column_name] -%}
{%- if 'lead_id' not in key -%}
    {{ exceptions.raise_compiler_error("unique_in_rebuilt_leads needs lead_id in the key, not " ~ key | join(', ')) }}
{%- endif -%}
{{- lead_source_refs() }}
select {{ key | join(', ') }}, count(*) as n_records
from {{ model }}
{%- if not flags.FULL_REFRESH %}
where lead_id in ({{ leads_to_rebuild(model) }})
{%- endif %}
group by {{ key | join(', ') }}
having count(*) > 1
{% endtest %}
