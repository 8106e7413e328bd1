{#- Join a relation with dated amounts to the exchange rate that converts them. The reporting
    currency converts at 1; any other currency without a fresh enough rate gets NULL, which
    the calling model turns into an error with assert_converted. -#}
{% macro fx_rate_for(currency_column, date_expression, rates_alias='fx', settings_alias='s') -%}
    case
        when {{ currency_column }} = {{ settings_alias }}.reporting_currency then cast(1 as decimal(18, 8))
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

{#- Money in the reporting currency: one fixed-scale type end to end (cents). Sums of a
    fixed-scale decimal are exact whatever order the rows arrive in, so two builds of the same
    data give the same bytes; floating-point sums differed in the 16th digit from build to
    build. Ratios of money (cost per SQL) are rounded to it too. -#}
{% macro type_money() -%}
    decimal(18, 2)
{%- endmacro %}

{% macro to_money(expression) -%}
    cast(round({{ expression }}, 2) as {{ type_money() }})
{%- endmacro %}

{#- `amount` (money) per `count` units, in money rounded half up to the cent by integer
    arithmetic, NULL when count is 0: the same cent on every engine. (Dividing in floating
    point and rounding after gave 204.07 on DuckDB and 204.08 on Spark for 816.30 / 4.) Exact
    while 2 x cents + count stays below 2^53. -#}
{% macro money_per(amount, count) -%}
    {%- set cents = 'cast(round(' ~ amount ~ ' * 100, 0) as ' ~ dbt.type_bigint() ~ ')' -%}
    cast(cast(floor((2 * {{ cents }} + ({{ count }})) / nullif(2 * ({{ count }}), 0)) as decimal(18, 0))
         * 0.01 as {{ type_money() }})
{%- endmacro %}

{#- An amount times its exchange rate, in money. Both are widened first: DuckDB types
    DECIMAL(18,4) x DECIMAL(18,8) as DECIMAL(18,12), which overflows from 1,000,000 up. -#}
{% macro converted_amount(amount, rate) -%}
    {{ to_money('cast(' ~ amount ~ ' as decimal(38, 4)) * cast(' ~ rate ~ ' as decimal(38, 8))') }}
{%- endmacro %}

{#- The part (upto_after - upto_before) / whole of a fixed-scale `total`, counted in units of
    its last decimal (scale 2: cents) and floored cumulatively, so the parts of one total
    always add up to it exactly: spreading a month's SDR cost over its days, or a week's
    spend over segments, neither loses nor invents a cent. Exact while units x upto stays
    below 2^53 (9e15: a week's 10 M USD over 90,000 leads of one channel). -#}
{% macro exact_share(total, upto_before, upto_after, whole, scale=2) -%}
    {%- set units = 'cast(round(' ~ total ~ ' * ' ~ (10 ** scale) ~ ', 0) as decimal(38, 0))' -%}
    cast((floor({{ units }} * ({{ upto_after }}) / ({{ whole }}))
          - floor({{ units }} * ({{ upto_before }}) / ({{ whole }}))) / {{ 10 ** scale }}
         as decimal(18, {{ scale }}))
{%- endmacro %}
