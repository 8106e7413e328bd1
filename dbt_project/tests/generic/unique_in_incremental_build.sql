{#- `unique` for a big incremental model, checked where a duplicate can appear.

    An incremental build deletes and re-adds some rows; the rows it kept were unique when the
    build that wrote them was tested (the orchestration records a model's build only when its
    tests pass, so a failure is tested again on the next run). A duplicate therefore needs a
    row of this build: only the keys of the rows added since the model's last recorded build
    are looked up in the whole table. `rebuilt` says how those rows are known: 'loaded'
    (loaded_at after the newest load that build read) or 'built' (built_at, the start of the
    build that wrote the row, after that build was recorded). Both columns follow the
    insertion order, so DuckDB skips the blocks of older rows. A full refresh checks every
    row: a daily run pays for the day, not for 30 M keys.
    `since_build_of` names the incremental model whose last recorded build marks "since" for a
    view (stg_crm__activities: the model that reads every activity). It is not a ref: the test
    still runs before that model is built. -#}
{% test unique_in_incremental_build(model, column_name, rebuilt, since_build_of=none) %}
{%- if rebuilt not in ('loaded', 'built') -%}
    {{ exceptions.raise_compiler_error("rebuilt must be 'loaded' or 'built', not " ~ rebuilt) }}
{%- endif -%}
{%- set state = api.Relation.create(database=model.database, schema=model.schema,
                                    identifier=since_build_of) if since_build_of else model -%}
{%- set since = rebuild_since(state) if rebuilt == 'loaded' else built_since(state) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
{%- if not flags.FULL_REFRESH %}
where {{ column_name }} in (
    select {{ column_name }} from {{ model }}
    where {{ 'loaded_at' if rebuilt == 'loaded' else 'built_at' }} > {{ since }}
)
{%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
