{#- `unique` for a big incremental model, checked where a duplicate can appear.

    An incremental build deletes and re-adds some rows; the rows it kept were unique when the
    build that wrote them was tested (the orchestration records a model's build only when its
    tests pass, so a failure is tested again on the next run). A duplicate therefore needs a
    row of this build: only the keys of the rows added since the model's last recorded build
    are looked up in the whole table. `rebuilt` says which rows those are: 'loaded' (loaded_at
    after that build) or 'leads' (the leads it rebuilt). A full refresh checks every row: a
    daily run pays for the day, not for 30 M keys. -#}
{% test unique_in_incremental_build(model, column_name, rebuilt) %}
{%- if rebuilt not in ('loaded', 'leads') -%}
    {{ exceptions.raise_compiler_error("rebuilt must be 'loaded' or 'leads', not " ~ rebuilt) }}
{%- endif -%}
{{- lead_source_refs() }}
{%- set since -%}
    {{ rebuild_since(model) }}
{%- endset %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
{%- if not flags.FULL_REFRESH %}
where {{ column_name }} in (
    select {{ column_name }} from {{ model }}
    where
    {%- if rebuilt == 'loaded' %} loaded_at > {{ since }}
    {%- else %} lead_id in ({{ leads_to_rebuild(model) }})
    {%- endif %}
)
{%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
