{#- Category values as CRMs type them ('Paid Search', ' EMAIL_OPEN ') become one
    spelling: trimmed, lower case, words joined by underscores. Blank becomes NULL. -#}
{% macro normalise_category(column) -%}
    nullif(replace(replace(lower(trim({{ column }})), ' ', '_'), '-', '_'), '')
{%- endmacro %}

{#- Free text: trimmed, blank becomes NULL. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
