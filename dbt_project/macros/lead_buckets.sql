{#- Scoring in buckets of leads (int_activities_scored).

    The scoring windows sort every activity they score. Past DuckDB's memory limit those sorts
    spill, and a spilling sort grows faster than the data (at 1 M leads: 6.4 x the time of
    250 k leads for 4 x the rows). Leads are independent, so the model scores them in buckets
    of activities that fit in memory (by a hash of lead_id): each bucket's sorts stay the size
    of a small run, and the time grows with the data. A bucket holds one activity per 500
    bytes of DUCKDB_MEMORY_LIMIT (6 M at 3 GB; at 1 M leads 3 M and 6 M buckets took the same
    time), or FUNNEL_SCORING_BUCKET_ROWS when set. The first bucket is the model's own
    statement; a post-hook inserts the others in the same transaction.
    One bucket (no filter at all) whenever the rows fit, as on every daily run. -#}

{#- How many buckets the rows to score need (1 when they fit in one). -#}
{% macro lead_bucket_count() -%}
    {%- if not execute or model.resource_type != 'model' -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set per_bucket = (env_var('FUNNEL_SCORING_BUCKET_ROWS', '') or bucket_rows_for_memory()) | int -%}
    {%- if is_incremental() -%}
        {#- the leads to rebuild times the average activities per lead -#}
        {%- set count_sql -%}
            select cast(ceil((select count(*) from ({{ leads_to_rebuild() }}))
                        * (select count(*) from {{ ref('stg_crm__activities') }})
                        / greatest(1, (select count(*) from {{ ref('stg_crm__leads') }}))) as bigint)
        {%- endset -%}
    {%- else -%}
        {%- set count_sql -%}
            select count(*) from {{ ref('stg_crm__activities') }}
        {%- endset -%}
    {%- endif -%}
    {%- set rows = run_query(count_sql).columns[0].values()[0] | int -%}
    {{ return([1, ((rows + per_bucket - 1) // per_bucket) | int] | max) }}
{%- endmacro %}

{#- Activities per bucket for DUCKDB_MEMORY_LIMIT ("3013MB", "4GB", "2GiB"...). -#}
{% macro bucket_rows_for_memory() -%}
    {%- set limit = env_var('DUCKDB_MEMORY_LIMIT', '4GB') | lower | replace(' ', '') -%}
    {%- set units = [('gib', 1073741824), ('mib', 1048576), ('kib', 1024), ('gb', 1000000000),
                     ('mb', 1000000), ('kb', 1000), ('b', 1)] -%}
    {%- for unit, factor in units -%}
        {%- if limit.endswith(unit) and limit[:-(unit | length)] | float > 0 -%}
            {{ return(((limit[:-(unit | length)] | float) * factor / 500) | int) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(6000000) }}
{%- endmacro %}

{#- The filter of the model's statement: bucket 0 of n, or nothing when n = 1. The marker
    comment is what the post-hook rewrites for the other buckets. -#}
{% macro in_lead_bucket(column, buckets) -%}
    {%- if buckets > 1 -%}
        {{ lead_bucket(column, buckets) }} = 0 /* lead bucket 0 of {{ buckets }} */
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- post_hook: the model's statement again for buckets 1 .. n-1. -#}
{% macro insert_other_lead_buckets() -%}
    {%- set code = model.compiled_code or '' -%}
    {%- set marker = '= 0 /* lead bucket 0 of ' -%}
    {%- if marker not in code -%}
        select 1
    {%- else -%}
        {%- set buckets = code.split(marker)[1].split(' */')[0] | int -%}
        {%- do log(this.identifier ~ ': scored in ' ~ buckets ~ ' buckets of leads', info=True) -%}
        {%- for i in range(1, buckets) %}
        insert into {{ this }}
        {{ code.replace(marker ~ buckets ~ ' */', '= ' ~ i ~ ' /* lead bucket ' ~ i ~ ' of ' ~ buckets ~ ' */') }};
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{#- A stable bucket number in 0 .. buckets-1 for a value. -#}
{% macro lead_bucket(column, buckets) -%}
    {{ return(adapter.dispatch('lead_bucket')(column, buckets)) }}
{%- endmacro %}

{% macro default__lead_bucket(column, buckets) -%}
    (hash({{ column }}) % {{ buckets }})
{%- endmacro %}

{% macro postgres__lead_bucket(column, buckets) -%}
    (abs(hashtext({{ column }})::bigint) % {{ buckets }})
{%- endmacro %}
