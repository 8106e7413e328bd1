{#- One definitions version per build, on every path that runs dbt (the pipeline,
    `funnel dbt build|run`, a bare `dbt build --vars ...`).

    Each by-lead incremental model records the definitions version its rows were computed
    with (audit.dbt_model_definitions, written by its last post-hook, inside the model's
    transaction). When def_settings holds another version - the definitions file changed -
    dbt's own `should_full_refresh()`, overridden below, answers yes for that model: it is
    rebuilt from all history instead of for the leads with new rows only, so no mart keeps
    rows of older definitions beside rows of new ones. -#}

{% macro definitions_registry() -%}
    {{ return(audit_relation('dbt_model_definitions')) }}
{%- endmacro %}

{#- A table of the audit schema (Spark has no database above its schemas). -#}
{% macro audit_relation(identifier) -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='audit',
                                  identifier=identifier)) }}
{%- endmacro %}

{#- dbt's macro (global_project/macros/materializations/configs.sql), plus the definitions
    check. The incremental materialization and is_incremental() both ask it. -#}
{% macro should_full_refresh() %}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if configured -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(built_with_other_definitions()) }}
{% endmacro %}

{#- True for a by-lead model whose stored rows were computed with other definitions than
    def_settings holds now (or whose version was never recorded). Asked about ten times per
    model (the materialization, each input's filter, the hooks): the answer is kept in the
    node's context for the rest of its compilation or execution. -#}
{% macro built_with_other_definitions() %}
    {%- if not execute or not (config.get('meta') or {}).get('records_definitions') -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if '_definitions_versions' not in model -%}
        {%- do model.update({'_definitions_versions': definitions_versions()}) -%}
    {%- endif -%}
    {%- set built_with, in_force = model['_definitions_versions'] -%}
    {{ return(built_with != in_force) }}
{% endmacro %}

{#- (version the model's rows were computed with, version def_settings holds). -#}
{% macro definitions_versions() %}
    {%- set registry = adapter.get_relation(database=target.get('database'), schema='audit',
                                            identifier='dbt_model_definitions') -%}
    {%- set query -%}
        select
            {% if registry is none %}cast(null as {{ dbt.type_string() }}){% else -%}
            (select definitions_version from {{ registry }}
             where model = '{{ this.identifier }}'
             order by recorded_at desc limit 1){% endif %} as built_with,
            (select definitions_version from {{ ref('def_settings') }}) as in_force
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{ return([row[0], row[1]]) }}
{% endmacro %}

{#- A note in dbt's log when a model is rebuilt whole for this reason (its first pre-hook). -#}
{% macro log_definitions_rebuild() %}
    {%- if execute and not flags.FULL_REFRESH and built_with_other_definitions() -%}
        {%- set built_with, in_force = model['_definitions_versions'] -%}
        {%- do log(this.identifier ~ ': built with definitions ' ~ (built_with or 'not recorded')
                   ~ ', def_settings holds ' ~ in_force ~ ' - rebuilt from all history',
                   info=true) -%}
    {%- endif -%}
{% endmacro %}

{#- Last post-hook of a by-lead model: the version its rows now reflect. -#}
{% macro record_definitions_version() -%}
    insert into {{ definitions_registry() }} (model, definitions_version, recorded_at)
    select '{{ this.identifier }}', definitions_version, {{ build_stamp() }}
    from {{ ref('def_settings') }}
{%- endmacro %}

{#- on-run-start: the registry, and a record of every dbt invocation that can build models.
    The pipeline skips a run with nothing new only when no dbt command built anything since
    its last whole-project build (orchestration/transform/build_state.py nothing_new): a `funnel dbt
    build` in between leaves the warehouse as the pipeline did not. -#}
{% macro record_invocation() -%}
    {%- set builds_models = [] -%}
    {%- for node in (selected_resources or []) if node.startswith('model.') -%}
        {%- do builds_models.append(node) -%}
    {%- endfor -%}
    {%- set invocations = audit_relation('dbt_invocations') -%}
    {%- set statements = [
        'create schema if not exists ' ~ invocations.without_identifier(),
        'create table if not exists ' ~ definitions_registry() ~ ' (
        model ' ~ dbt.type_string() ~ ',
        definitions_version ' ~ dbt.type_string() ~ ',
        recorded_at ' ~ dbt.type_timestamp() ~ '
    )',
        'create table if not exists ' ~ invocations ~ ' (
        invocation_id ' ~ dbt.type_string() ~ ',
        command ' ~ dbt.type_string() ~ ',
        started_at ' ~ dbt.type_timestamp() ~ ',
        models_selected ' ~ dbt.type_int() ~ ',
        definitions_version ' ~ dbt.type_string() ~ '
    )'] -%}
    {%- if builds_models and flags.WHICH in ('build', 'run') -%}
        {%- do statements.append('insert into ' ~ invocations ~ "
    values ('" ~ invocation_id ~ "', '" ~ flags.WHICH ~ "', " ~ build_stamp() ~ ",
            " ~ (builds_models | length) ~ ", '" ~ var("definitions_version", "") ~ "')") -%}
    {%- endif -%}
    {{ run_statements(statements) }}
{%- endmacro %}
