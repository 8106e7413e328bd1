{#- The engine-specific pieces, behind adapter.dispatch: one macro per concept, here. The
    defaults are standard SQL (PostgreSQL, DuckDB); other engines override what differs. Spark
    (spark__*) is tested: tests/test_engine_parity.py builds the marts on both engines and
    compares them row by row. -#}

{#- A naive UTC timestamp as naive wall-clock time in time zone `tz` (a column or literal). -#}
{% macro utc_to_local(timestamp_utc, tz) -%}
    {{ return(adapter.dispatch('utc_to_local')(timestamp_utc, tz)) }}
{%- endmacro %}

{% macro default__utc_to_local(timestamp_utc, tz) -%}
    (({{ timestamp_utc }}) at time zone 'UTC') at time zone {{ tz }}
{%- endmacro %}

{% macro snowflake__utc_to_local(timestamp_utc, tz) -%}
    convert_timezone('UTC', {{ tz }}, {{ timestamp_utc }})
{%- endmacro %}

{% macro bigquery__utc_to_local(timestamp_utc, tz) -%}
    datetime(timestamp({{ timestamp_utc }}), {{ tz }})
{%- endmacro %}

{#- Spark's timestamps are naive here (spark.sql.timestampType TIMESTAMP_NTZ, session zone UTC):
    the shifted instant read back as wall-clock time. -#}
{% macro spark__utc_to_local(timestamp_utc, tz) -%}
    cast(from_utc_timestamp({{ timestamp_utc }}, {{ tz }}) as timestamp_ntz)
{%- endmacro %}

{#- ISO day of week, Monday = 1 ... Sunday = 7. -#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__iso_day_of_week(date_expression) -%}
    dayofweekiso({{ date_expression }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date_expression) -%}
    cast(extract(dayofweek_iso from {{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- 'YYYY-Www', the ISO week label of a date. -#}
{% macro iso_week_label(date_expression) -%}
    {{ return(adapter.dispatch('iso_week_label')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_week_label(date_expression) -%}
    to_char({{ date_expression }}, 'IYYY-"W"IW')
{%- endmacro %}

{% macro duckdb__iso_week_label(date_expression) -%}
    strftime({{ date_expression }}, '%G-W%V')
{%- endmacro %}

{#- Spark's datetime patterns have no ISO week-year: its parts, extracted. -#}
{% macro spark__iso_week_label(date_expression) -%}
    concat(cast(extract(yearofweek from {{ date_expression }}) as string), '-W',
           lpad(cast(extract(week from {{ date_expression }}) as string), 2, '0'))
{%- endmacro %}

{#- Stop the query with `message` (a SQL string expression) when it is evaluated: for
    conditions that must never produce a number, such as an amount without an exchange rate. -#}
{% macro fail_query(message) -%}
    {{ return(adapter.dispatch('fail_query')(message)) }}
{%- endmacro %}

{% macro default__fail_query(message) -%}
    cast({{ message }} as {{ dbt.type_int() }})
{%- endmacro %}

{% macro duckdb__fail_query(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro spark__fail_query(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{#- Median and other percentiles of a numeric expression, as an aggregate. -#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- Spark's exact percentile (linear interpolation, as percentile_cont), not percentile_approx. -#}
{% macro spark__percentile(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- a / b as a double, NULL (not infinity or an error) when b is 0 or NULL.
    A ratio is floating point on every engine: DuckDB divides decimals in floating point,
    Spark keeps them fixed-point and rounds the quotient to 6 decimals. So safe_divide casts,
    a literal that sets a ratio's type elsewhere is written as a double (x / 2e0, n + 0.5e0,
    not 2.0, 0.5) and an amount averaged is cast to double first. Money per unit (cost per
    SQL) is money_per() (macros/currency.sql): exact to the cent. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- The text of key `key` (a column or literal) of a JSON object; NULL when absent. -#}
{% macro json_text(json_column, key) -%}
    {{ return(adapter.dispatch('json_text')(json_column, key)) }}
{%- endmacro %}

{% macro default__json_text(json_column, key) -%}
    json_extract_string({{ json_column }}, '$."' || {{ key }} || '"')
{%- endmacro %}

{% macro postgres__json_text(json_column, key) -%}
    (({{ json_column }})::jsonb ->> {{ key }})
{%- endmacro %}

{% macro spark__json_text(json_column, key) -%}
    get_json_object({{ json_column }}, concat('$[''', {{ key }}, ''']'))
{%- endmacro %}

{#- Whether `value` matches the regular expression `pattern` anywhere. -#}
{% macro regex_matches(value, pattern) -%}
    {{ return(adapter.dispatch('regex_matches')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(value, pattern) -%}
    regexp_matches({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__regex_matches(value, pattern) -%}
    ({{ value }} ~ {{ pattern }})
{%- endmacro %}

{% macro spark__regex_matches(value, pattern) -%}
    regexp_like({{ value }}, {{ pattern }})
{%- endmacro %}

{#- One row per key of a JSON object column (`key` and `relation`'s other columns):
    used to unfold the export's own lead columns. -#}
{% macro json_object_keys(relation, json_column, columns) -%}
    {{ return(adapter.dispatch('json_object_keys')(relation, json_column, columns)) }}
{%- endmacro %}

{% macro default__json_object_keys(relation, json_column, columns) -%}
    select {{ columns | join(', ') }}, unnest(json_keys({{ json_column }})) as key
    from {{ relation }}
    where {{ json_column }} is not null
{%- endmacro %}

{% macro postgres__json_object_keys(relation, json_column, columns) -%}
    select {{ columns | join(', ') }}, jsonb_object_keys(({{ json_column }})::jsonb) as key
    from {{ relation }}
    where {{ json_column }} is not null
{%- endmacro %}

{% macro spark__json_object_keys(relation, json_column, columns) -%}
    select {{ columns | join(', ') }}, explode(json_object_keys({{ json_column }})) as key
    from {{ relation }}
    where {{ json_column }} is not null
{%- endmacro %}

{#- The number a text holds, NULL when it holds none ('1,200 visits', 'n/a'): a range rule on
    an export's own column must not fail on its first word. -#}
{% macro number_or_null(value) -%}
    {{ return(adapter.dispatch('number_or_null')(value)) }}
{%- endmacro %}

{% macro default__number_or_null(value) -%}
    try_cast({{ value }} as {{ dbt.type_float() }})
{%- endmacro %}

{% macro postgres__number_or_null(value) -%}
    case when trim({{ value }}) ~ '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$'
        then cast(trim({{ value }}) as {{ dbt.type_float() }}) end
{%- endmacro %}

{#- How a CTE read more than once is planned ("with x as {{ inline_cte() }} (...)"):
    inline_cte() keeps it inlined where DuckDB and PostgreSQL would write it out;
    materialized_cte() has it written out once where DuckDB would inline it into each reader
    and compute it again for each. Spark has no such keyword (it always inlines). -#}
{% macro inline_cte() -%}
    {{ return(cte_materialization(false)) }}
{%- endmacro %}

{% macro materialized_cte() -%}
    {{ return(cte_materialization(true)) }}
{%- endmacro %}

{% macro cte_materialization(materialized) -%}
    {{ return(adapter.dispatch('cte_materialization')(materialized)) }}
{%- endmacro %}

{% macro default__cte_materialization(materialized) -%}
    {{ '' if materialized else 'not ' }}materialized
{%- endmacro %}

{% macro spark__cte_materialization(materialized) -%}
{%- endmacro %}

{#- dbt's dateadd and datediff on Spark (dbt-spark's go through Unix seconds in the session's
    zone and come back NULL for the naive timestamps used here). Whole days and months move the
    calendar; hours and smaller may be fractional (9.5 business hours). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1} -%}
    {%- if datepart in seconds -%}
        (cast({{ from_date_or_timestamp }} as timestamp_ntz)
         + make_interval(0, 0, 0, 0, 0, 0, cast(({{ interval }}) * {{ seconds[datepart] }} as decimal(18, 6))))
    {%- else -%}
        timestampadd({{ datepart }}, cast({{ interval }} as int), cast({{ from_date_or_timestamp }} as timestamp_ntz))
    {%- endif -%}
{%- endmacro %}

{#- Boundaries crossed, as DuckDB's and PostgreSQL's date_diff count them (10:59:59 -> 11:00:00
    is one hour and one second), as a double: Spark would keep a decimal through "/ 86400.0",
    DuckDB divides in floating point. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    cast(timestampdiff({{ datepart }}, date_trunc('{{ datepart }}', {{ first_date }}),
                       date_trunc('{{ datepart }}', {{ second_date }})) as double)
{%- endmacro %}

{#- dbt's listagg on Spark, with its order: dbt-spark's ignores `order by` (collect_list keeps
    whatever order the rows arrive in). One sort key, ascending or descending. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- if order_by_clause -%}
        {%- set words = order_by_clause.strip().split() -%}
        {%- if words[:2] | map('lower') | list != ['order', 'by'] or words | length not in (3, 4) -%}
            {{ exceptions.raise_compiler_error("listagg on Spark takes one sort key: " ~ order_by_clause) }}
        {%- endif -%}
        {%- set sorted = 'array_sort(collect_list(struct(' ~ words[2] ~ ' as k, ' ~ measure ~ ' as v)))' -%}
        {%- if words | length == 4 and words[3] | lower == 'desc' -%}
            {%- set sorted = 'reverse(' ~ sorted ~ ')' -%}
        {%- endif -%}
        {%- set collected = 'transform(' ~ sorted ~ ', x -> x.v)' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
