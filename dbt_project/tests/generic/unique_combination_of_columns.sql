{#- A grain: no combination of these columns twice, nulls allowed in them (like dbt_utils'
    test, kept here because dbt packages cannot be downloaded on a closed network). A grain
    whose columns are never null is a `primary_key`. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{{ key_violations(model, combination_of_columns, nulls_allowed=true) }}
{% endtest %}
