{#- Every row of a mart was computed with the definitions def_settings holds: a mart that kept
    rows of an earlier definitions file beside new ones fails the build (and the audit before
    each publish). Fails with one row per stray version and its row count. -#}
{% test uses_the_definitions_in_force(model, column_name) %}
with in_force as (
    select definitions_version from {{ ref('def_settings') }}
)

select
    m.{{ column_name }} as definitions_version,
    count(*) as rows_of_that_version
from {{ model }} as m
cross join in_force as f
where m.{{ column_name }} is null or m.{{ column_name }} <> f.definitions_version
group by m.{{ column_name }}
{% endtest %}
