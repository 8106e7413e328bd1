{#- Category values as CRMs type them ('Paid Search', ' EMAIL_OPEN ') become one
    spelling: trimmed, lower case, words joined by underscores. Blank becomes NULL. -#}
{% macro normalise_category(column) -%}
    nullif(replace(replace(lower(trim({{ column }})), ' ', '_'), '-', '_'), '')
{%- endmacro %}

{#- Free text: trimmed, blank becomes NULL. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Long form of some columns of a relation: one row per (id, field_name, field_value), the
    shape the rule tables (channels, exclusions, fit) join on. fields: list of
    (field_name, expression) pairs, expressions evaluated on `relation`. -#}
{% macro unpivot_fields(relation, id_column, fields) -%}
    {%- for name, expression in fields %}
    select {{ id_column }}, '{{ name }}' as field_name, {{ expression }} as field_value from {{ relation }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The first row of each partition in the given order (the latest, with `desc`): the one
    window pattern the stage and score models use to pick an event per lead. -#}
{% macro first_row_per(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('first_row_per')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__first_row_per(relation, partition_by, order_by) -%}
    select *
    from (
        select
            *,
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _row_rank
        from {{ relation }}
    ) as ranked
    where _row_rank = 1
{%- endmacro %}

{#- DuckDB: one hash aggregate (arg_max / arg_min of the whole row) instead of sorting every
    row - 4x faster on 28 M activities. Only for orderings in one direction without NULLS
    clauses (the ordering columns must not be NULL); others fall back to the window. -#}
{% macro duckdb__first_row_per(relation, partition_by, order_by) -%}
    {%- set columns = [] -%}
    {%- set directions = [] -%}
    {%- for term in order_by.split(',') -%}
        {%- set words = term.strip().split() -%}
        {%- do columns.append(words[0]) -%}
        {%- do directions.append(words[1:] | join(' ') | lower or 'asc') -%}
    {%- endfor -%}
    {%- set unique_directions = directions | unique | list -%}
    {%- set partition_columns = partition_by.split(',') | map('trim') | list -%}
    {%- if unique_directions | length == 1 and unique_directions[0] in ('asc', 'desc') -%}
    select unnest({{ 'arg_max' if unique_directions[0] == 'desc' else 'arg_min' }}(
        _row, row({% for c in columns %}_row.{{ c }}{{ ', ' if not loop.last }}{% endfor %})))
    from {{ relation }} as _row
    group by {% for p in partition_columns %}_row.{{ p }}{{ ', ' if not loop.last }}{% endfor %}
    {%- else -%}
    {{ default__first_row_per(relation, partition_by, order_by) }}
    {%- endif -%}
{%- endmacro %}
