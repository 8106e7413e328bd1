{#- The few engine-specific pieces, behind adapter.dispatch. The defaults are standard SQL
    (PostgreSQL, DuckDB); other warehouses override what differs. -#}

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

{#- a / b, NULL (not infinity or an error) when b is 0 or NULL. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
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
