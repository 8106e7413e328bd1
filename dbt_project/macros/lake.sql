{#- on-run-start on Spark: the raw tables the loader wrote to LAKE_DIR/raw (Parquet, one folder
    per table; orchestration/ingest/lake.py) registered as the tables the `raw` sources read.
    Re-created on every invocation (dropping an external table keeps its files), so a column
    an export gained is seen. Nothing on other engines: there the loader writes the tables.
    (Spark runs one statement per call, hence run_query per statement.) -#}
{% macro register_lake_sources() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- set lake = env_var('LAKE_DIR') -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for source in graph.sources.values() if source.source_name == 'raw' -%}
            {%- do run_query('drop table if exists raw.' ~ source.name) -%}
            {%- do run_query('create table raw.' ~ source.name ~ " using parquet location '"
                             ~ lake ~ '/raw/' ~ source.name ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- Run each of `statements` (a list of SQL strings) where the engine takes one per call, or
    all at once as a script. Returns the SQL a hook should run after that. -#}
{% macro run_statements(statements) -%}
    {%- if target.type == 'spark' -%}
        {%- if execute -%}{%- for statement in statements -%}{%- do run_query(statement) -%}{%- endfor -%}{%- endif -%}
        select 1
    {%- else -%}
        {{ statements | join(';\n') }}
    {%- endif -%}
{%- endmacro %}
