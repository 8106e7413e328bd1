{#- Join a relation with dated amounts to the exchange rate that converts them. The reporting
    currency converts at 1; any other currency without a fresh enough rate gets NULL, which
    the calling model turns into an error with assert_converted. -#}
{% macro fx_rate_for(currency_column, date_expression, rates_alias='fx', settings_alias='s') -%}
    case
        when {{ currency_column }} = {{ settings_alias }}.reporting_currency then 1.0
        else {{ rates_alias }}.rate_to_reporting
    end
{%- endmacro %}

{% macro fx_join_condition(currency_column, date_expression, rates_alias='fx') -%}
    {{ rates_alias }}.currency = {{ currency_column }}
    and {{ date_expression }} >= {{ rates_alias }}.valid_from
    and {{ date_expression }} < {{ rates_alias }}.valid_until
{%- endmacro %}

{#- Fails the build, naming currencies and dates, when any row of `relation` has no rate. -#}
{% macro assert_converted(relation, rate_column, currency_column, date_column) -%}
    select
        case when count(*) > 0 then {{ fail_query(
            "'missing exchange rate to the reporting currency for ' || cast(count(*) as "
            ~ dbt.type_string() ~ ") || ' row(s), e.g. ' || min(" ~ currency_column
            ~ " || ' on ' || cast(" ~ date_column ~ " as " ~ dbt.type_string()
            ~ ")) || '; load fx_rates for these currencies and dates'") }} end as failure
    from {{ relation }}
    where {{ rate_column }} is null
{%- endmacro %}
