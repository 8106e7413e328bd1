{#- The label of band `index` of width `width`: "60-80" ("12.5-25" when the width is not
    whole). -#}
{% macro band_label(index, width) -%}
    {{ number_text(index ~ ' * ' ~ width) }} || '-' || {{ number_text('(' ~ index ~ ' + 1) * ' ~ width) }}
{%- endmacro %}

{% macro number_text(expression) -%}
    case when ({{ expression }}) = floor({{ expression }})
        then cast(cast({{ expression }} as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }})
        else cast({{ expression }} as {{ dbt.type_string() }}) end
{%- endmacro %}

{#- A sum (or ratio of sums) of doubles, rounded to `digits` decimals: the order rows arrive
    in changes its last bits from one build to the next, and two full rebuilds must agree to
    the bit. -#}
{% macro stable_double(expression, digits=10) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}
