{#- The MQL thresholds fct_threshold_backtest replays history with (calibration.backtest_thresholds). -#}
{%- set grid = funnel_definitions().calibration.backtest_thresholds -%}
{%- set rows = [] -%}
{%- set n = ((grid.stop - grid.start) / grid.step) | round(0, 'floor') | int -%}
{%- for i in range(n + 1) -%}
    {%- do rows.append([grid.start + i * grid.step]) -%}
{%- endfor -%}
{{ rows_as_relation(rows, [('threshold', dbt.type_float())]) }}
