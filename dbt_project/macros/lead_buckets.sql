{#- Scoring in buckets of leads (int_activities_scored).

    The scoring windows sort every activity they score. Past DuckDB's memory limit those sorts
    spill, and a spilling sort grows faster than the data (at 1 M leads: 6.4 x the time of
    250 k leads for 4 x the rows). Leads are independent, so the model scores them in buckets
    of activities that fit in memory: each bucket's sorts stay the size of a small run, and
    the time grows with the data. A bucket holds one activity per 500 bytes of
    DUCKDB_MEMORY_LIMIT (6 M at 3 GB; at 1 M leads 3 M and 6 M buckets took the same time),
    or FUNNEL_SCORING_BUCKET_ROWS when set. The first bucket is the model's own statement; a
    post-hook inserts the others in the same transaction.
    A bucket is a range of lead_id (split at quantiles of the activities to score), not a
    hash: a range filter lets DuckDB skip the blocks of other leads wherever the rows are
    stored in lead order (and costs less than a hash where they are not). A hash filter read
    every block once per bucket, so the scans grew with buckets x rows, the square of the data.
    One bucket (no filter at all) whenever the rows fit, as on every daily run. -#}

{#- How many buckets the rows to score need (1 when they fit in one). -#}
{% macro lead_bucket_count() -%}
    {#- Spark spills its sorts by partition on its own: one bucket. -#}
    {%- if not execute or model.resource_type != 'model' or target.type == 'spark' -%}
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

{#- Where the rows to score split into `buckets` ranges of lead_id: the buckets - 1 lead_ids
    at the quantiles of a sample of the activities to score (empty for one bucket). -#}
{% macro lead_bucket_bounds(buckets) -%}
    {%- if buckets <= 1 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set activities -%}
        select lead_id from {{ ref('stg_crm__activities') }}
        {%- if is_incremental() %} where lead_id in ({{ leads_to_rebuild() }}){% endif %}
    {%- endset -%}
    {%- set bounds = run_query(adapter.dispatch('lead_bucket_quantiles')(activities, buckets)).columns[0].values() -%}
    {{ return(bounds | reject('none') | list) }}
{%- endmacro %}

{#- The buckets - 1 split points, one row each, in order. A 200 k-row sample puts
    each of 50 buckets within a few percent of its share; the seed makes builds repeatable. -#}
{% macro default__lead_bucket_quantiles(activities, buckets) -%}
    select unnest(quantile_disc(lead_id, [{% for i in range(1, buckets) %}{{ i / buckets }}{{ ', ' if not loop.last }}{% endfor %}]))
    from ({{ activities }}) using sample reservoir(200000 rows) repeatable (7)
{%- endmacro %}

{% macro postgres__lead_bucket_quantiles(activities, buckets) -%}
    select unnest(percentile_disc(array[{% for i in range(1, buckets) %}{{ i / buckets }}{{ ', ' if not loop.last }}{% endfor %}])
        within group (order by lead_id))
    from ({{ activities }}) as a
{%- endmacro %}

{#- The lead_id filter of the model's statement: bucket 0 of the ranges split at `bounds`, or
    nothing for one bucket. The marker comment carries the bounds: the post-hook rewrites the
    filter for the other buckets from it. -#}
{% macro in_lead_bucket(bounds) -%}
    {%- if bounds -%}
        {{ lead_bucket_range('lead_id', bounds, 0) }} {{ lead_bucket_marker(bounds, 0) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- JSON with every '/' written '\/' (the same string to a JSON reader): a lead_id holding
    '*/' cannot close the comment. -#}
{% macro lead_bucket_marker(bounds, bucket) -%}
    /* lead bucket {{ bucket }} of {{ bounds | length + 1 }} split at {{ bounds | tojson | replace('/', '\\/') }} */
{%- endmacro %}

{#- Bucket `bucket` of the ranges split at `bounds`: [bounds[i-1], bounds[i]), open at both
    ends. The ranges cover every non-null lead_id once (a null one has no lead to score). -#}
{% macro lead_bucket_range(column, bounds, bucket) -%}
    {%- set conditions = [] -%}
    {%- if bucket > 0 %}{% do conditions.append(column ~ ' >= ' ~ sql_literal(bounds[bucket - 1])) %}{% endif -%}
    {%- if bucket < bounds | length %}{% do conditions.append(column ~ ' < ' ~ sql_literal(bounds[bucket])) %}{% endif -%}
    ({{ conditions | join(' and ') }})
{%- endmacro %}

{#- post_hook: the model's statement again for buckets 1 .. n-1. -#}
{% macro insert_other_lead_buckets() -%}
    {%- set code = model.compiled_code or '' -%}
    {%- set marker = '/* lead bucket 0 of ' -%}
    {%- if marker not in code -%}
        select 1
    {%- else -%}
        {%- set bounds = fromjson(code.split(marker)[1].split(' split at ')[1].split(' */')[0]) -%}
        {%- set first = in_lead_bucket(bounds) -%}
        {%- do log(this.identifier ~ ': scored in ' ~ (bounds | length + 1) ~ ' buckets of leads', info=True) -%}
        {%- for i in range(1, bounds | length + 1) %}
        {%- set bucket_code = code.replace(first, lead_bucket_range('lead_id', bounds, i) ~ ' ' ~ lead_bucket_marker(bounds, i)) %}
        {%- if marker in bucket_code -%}
            {{ exceptions.raise_compiler_error(this.identifier ~ ': a bucket filter was not written by in_lead_bucket(), so bucket ' ~ i ~ ' would score bucket 0 again') }}
        {%- endif %}
        insert into {{ this }}
        {{ bucket_code }};
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
