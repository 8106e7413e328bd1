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
    select *
    from (
        select
            *,
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _row_rank
        from {{ relation }}
    ) as ranked
    where _row_rank = 1
{%- endmacro %}
