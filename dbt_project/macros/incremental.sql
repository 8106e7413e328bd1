{#- Incremental builds by lead (delete + insert of whole leads).

    A lead's scores depend on its whole history, so a lead with any new or changed row is
    recomputed whole: late-arriving rows of any age come out exactly as in a full rebuild,
    with no lookback window to tune. "New" means loaded after the newest load the previous
    successful build of this model read; the orchestration records that moment in
    audit.dbt_builds after each build, and forces --full-refresh when the definitions or the
    dbt project changed (orchestration/defs/transform.py). -#}

{#- The newest load the previous successful build of the model `relation` (default: this one)
    read, or NULL (never built). Read when the node runs and written as a literal: a constant
    lets DuckDB skip the blocks of the staging tables loaded before it (loaded_at follows the
    insertion order), where a subquery makes it read every block. -#}
{% macro previous_build_loaded_to(relation=none) -%}
    {%- set relation = relation or this -%}
    {%- set state = adapter.get_relation(database=relation.database, schema='audit', identifier='dbt_builds') -%}
    {%- set query -%}
        select cast(max(source_loaded_to) as {{ dbt.type_string() }}) from {{ state }}
        where model = '{{ relation.identifier }}'
    {%- endset -%}
    {%- set loaded_to = run_query(query).columns[0].values()[0] if state is not none and execute else none -%}
    {%- if loaded_to is none -%}
        cast(null as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast('{{ loaded_to }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- Leads with a lead row, prospect activity or qualification loaded since the previous build
    (of the model `relation`, default this one). -#}
{% macro leads_to_rebuild(relation=none) -%}
    {%- set since -%}coalesce({{ previous_build_loaded_to(relation) }}, cast('1900-01-01' as {{ dbt.type_timestamp() }})){%- endset -%}
    select lead_id from {{ ref('stg_crm__leads') }} where loaded_at > {{ since }}
    union
    select lead_id from {{ ref('stg_crm__activities') }} where loaded_at > {{ since }}
    union
    select lead_id from {{ ref('stg_crm__qualifications') }} where loaded_at > {{ since }}
{%- endmacro %}

{#- pre_hook of a by-lead incremental model: drop the rows of the leads about to be rebuilt
    (a lead that lost all its rows must lose them here too, which delete+insert on the new
    rows' keys would miss). -#}
{% macro delete_leads_to_rebuild() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where lead_id in ({{ leads_to_rebuild() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
