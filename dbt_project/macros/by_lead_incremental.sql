{#- Incremental builds by lead (delete + insert of whole leads).

    A lead's scores depend on its whole history, so a lead with any new or changed row is
    recomputed whole: late-arriving rows of any age come out exactly as in a full rebuild,
    with no lookback window to tune. "New" means loaded after the newest load the previous
    successful build of this model read; the orchestration records that moment in
    audit.dbt_builds after each build, and forces --full-refresh when the definitions or the
    dbt project changed (orchestration/transform/build_state.py). -#}

{#- `column` (source_loaded_to: the newest load it read; built_at: when the orchestration
    recorded it, after the build) of the previous successful build of the model `relation`
    (default: this one), or 1900 (never built). Read when the node runs and written as a
    literal: a constant lets DuckDB skip the blocks of a table written before it (loaded_at
    and built_at follow the insertion order), where a subquery makes it read every block. -#}
{% macro previous_build(column, relation=none) -%}
    {%- set relation = relation or this -%}
    {%- set state = adapter.get_relation(database=relation.database, schema='audit', identifier='dbt_builds') -%}
    {%- set query -%}
        select cast(max({{ column }}) as {{ dbt.type_string() }}) from {{ state }}
        where model = '{{ relation.identifier }}'
    {%- endset -%}
    {%- set value = run_query(query).columns[0].values()[0] if state is not none and execute else none -%}
    cast('{{ value or "1900-01-01" }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The staging models whose new rows make a lead's by-lead models stale: everything keyed by
    lead (the var lead_sources of dbt_project.yml, which the orchestration reads too). One set
    for every by-lead model, so a lead one of them rebuilds is rebuilt in all of them.
    by_lead_incremental() refs them all for the model (dbt cannot see a ref made only at run
    time). -#}
{% macro lead_sources() -%}
    {{ return(var('lead_sources')) }}
{%- endmacro %}

{#- The config of a by-lead incremental model, at the top of its file: append after the
    pre-hooks have listed the leads to rebuild and deleted their rows (`post_hook`: the
    model's own, if any), and a ref to each lead source, so dbt builds them first and the
    model need not list them. The last post-hook records the definitions version the rows
    reflect: a model built with other definitions than def_settings holds is rebuilt whole
    (macros/definitions_in_force.sql).
    `moving_rows`: a condition on the model's own rows whose values can change with the day
    alone (fct_sla: an untouched episode). Their leads are rebuilt on every build too
    (list_leads_to_rebuild() reads it from the config). -#}
{% macro by_lead_incremental(post_hook=none, moving_rows=none) -%}
    {%- set meta = {'records_definitions': true} -%}
    {%- if moving_rows %}{% do meta.update({'moving_rows': moving_rows}) %}{% endif -%}
    {%- if incremental_if_supported() == 'table' -%}
        {{ config(materialized='table', post_hook=([post_hook] if post_hook else [])) }}
    {%- else -%}
    {{ config(materialized='incremental', incremental_strategy='append', meta=meta,
              pre_hook=["{{ list_leads_to_rebuild() }}", "{{ delete_leads_to_rebuild() }}"],
              post_hook=([post_hook] if post_hook else []) + ["{{ record_definitions_version() }}"]) }}
    {%- endif -%}
    {{- lead_source_refs() }}
{%- endmacro %}

{#- 'incremental' where the engine can delete a lead's rows from a table (DuckDB, PostgreSQL),
    'table' on Spark: its plain Parquet tables have no DELETE, and a by-lead rebuild is a
    delete, so there every run rebuilds these models whole (DECISIONS.md). -#}
{% macro incremental_if_supported() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{#- A ref to each lead source and to def_settings, as `-- depends_on:` lines: whatever the
    flags of the run that parses the caller, dbt sees what leads_to_rebuild() and the
    definitions check read. -#}
{% macro lead_source_refs() -%}
    {%- for source in lead_sources() + ['def_settings'] %}
-- depends_on: {{ ref(source) }}
    {%- endfor %}
{%- endmacro %}

{#- The filter of an incremental staging model: the raw rows loaded since its last build (a
    newer version of a row carries the later load time, so it replaces the staged one). -#}
{% macro loaded_since_last_build() -%}
    {%- if is_incremental() %}where _loaded_at > (select max(loaded_at) from {{ this }}){% endif -%}
{%- endmacro %}

{#- The newest load the previous build of `relation` (default this one) read, as a literal;
    1900 when never built. -#}
{% macro rebuild_since(relation=none) -%}
    {{ previous_build('source_loaded_to', relation) }}
{%- endmacro %}

{#- When the previous build of `relation` (default this one) was recorded, as a literal; 1900
    when never built. Every row written by a later build has a later `built_at`. -#}
{% macro built_since(relation=none) -%}
    {{ previous_build('built_at', relation) }}
{%- endmacro %}

{#- Leads with a row loaded since the previous build (of the model `relation`, default this
    one). -#}
{% macro leads_to_rebuild(relation=none) -%}
    {%- set since = rebuild_since(relation) -%}
    {%- for source in lead_sources() %}
    {% if not loop.first %}union {% endif %}select lead_id from {{ ref(source) }} where loaded_at > {{ since }}
    {%- endfor %}
{%- endmacro %}

{#- The leads an incremental build of a by-lead model rebuilds, as a temporary table the
    pre-hook fills (the model's statement and its hooks share one connection): the leads with
    a row loaded since the previous build and, with the model's `moving_rows`
    (by_lead_incremental()), the leads of those rows.
    A table, not a CTE, because its row count is then known. DuckDB guesses that a filter on
    loaded_at keeps a fifth of each source: at 10 M leads it took the 0.5 M leads a day touched
    for 66 M, built its hash joins on their 15 M activities instead of on the leads, and the
    daily run ran out of memory. -#}
{% macro rebuilt_leads_table() -%}
    {{- this.identifier ~ '__rebuilt_leads' -}}
{%- endmacro %}

{% macro list_leads_to_rebuild() -%}
    {%- if is_incremental() -%}
        {%- set moving_rows = (config.get('meta') or {}).get('moving_rows') -%}
        drop table if exists {{ rebuilt_leads_table() }};
        create temporary table {{ rebuilt_leads_table() }} as
        select lead_id from ({{ leads_to_rebuild() }}
            {%- if moving_rows %}
            union select lead_id from {{ this }} where {{ moving_rows }}
            {%- endif %}) as leads
    {%- else -%}
        {{ log_definitions_rebuild() }}select 1
    {%- endif -%}
{%- endmacro %}

{#- The first CTE of a by-lead model ("with {{ rebuilt_leads_cte() }} leads as (...)"): the
    leads to rebuild. Nothing on a full build. -#}
{% macro rebuilt_leads_cte() -%}
    {%- if is_incremental() -%}
        {{ return('rebuilt_leads as (\n    select lead_id from ' ~ rebuilt_leads_table() ~ '\n),') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- The start of this dbt build (UTC) as a timestamp literal: the `built_at` of each row a
    build writes. A reader (a by-lead model, the serving publish) skips the blocks written
    before the build it last saw. -#}
{% macro build_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The filter of each input of a by-lead model: its rows of the rebuilt leads only (nothing
    on a full build). `keyword` is 'and' after a where clause of the model's own.
    For int_activities_scored, pass built_at='built_at': it stamps each row with the start of
    the build that wrote it. A lead to rebuild here has a load newer than this model's
    previous build, so it was rescored there by a build that started after that load, hence
    after this model's previous build was recorded (loads and builds share one writer pool).
    Rows stamped before that record are not looked at, and DuckDB skips their blocks instead
    of testing 30 M lead_ids. (The newest load the previous build read is too early a bound:
    the rows that build wrote come after it, so the first daily build after a full one would
    read them all.) -#}
{% macro of_rebuilt_leads(column='lead_id', keyword='where', built_at=none) -%}
    {%- if is_incremental() %} {{ keyword }}
        {%- if built_at %} {{ built_at }} > {{ built_since() }} and{% endif %}
        {{- ' ' ~ column }} in (select lead_id from rebuilt_leads)
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of a by-lead incremental model: drop the rows of the leads about to be rebuilt
    (a lead that lost all its rows must lose them here too, which delete+insert on the new
    rows' keys would miss). -#}
{% macro delete_leads_to_rebuild() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where lead_id in (select lead_id from {{ rebuilt_leads_table() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- on-run-start: on a build that is not a full refresh, DuckDB checkpoints after a commit
    that takes the write-ahead log past a twentieth of the memory limit (the orchestration
    passes it as DUCKDB_CHECKPOINT_THRESHOLD, orchestration/settings.py), not past 16 MB. A
    checkpoint writes every change since the last one and holds back the other dbt thread: in
    a daily run at 1 M leads one after `dim_leads` took 13.3 s while the `fct_lead_score_peaks`
    delete waited 13.1 s for it; deferred, the daily run's commits took 2.1 s instead of
    13-19 s (DECISIONS.md). Not further: until a checkpoint DuckDB keeps the rebuilt rows in
    memory it cannot spill, and at 10 M leads a day's rebuilds filled the limit. A full
    refresh keeps DuckDB's default: it replaces every table, and the space of the old ones is
    only reused after a checkpoint (41 GB at 10 M leads); so does a dbt run by hand without
    the variable. -#}
{% macro defer_checkpoints() -%}
    {%- set threshold = env_var("DUCKDB_CHECKPOINT_THRESHOLD", "") -%}
    {%- if target.type == 'duckdb' and not flags.FULL_REFRESH and threshold -%}
        set global checkpoint_threshold = '{{ threshold }}'
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
