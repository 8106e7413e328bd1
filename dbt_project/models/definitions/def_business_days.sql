{%- set numbers = {'mon': 1, 'tue': 2, 'wed': 3, 'thu': 4, 'fri': 5, 'sat': 6, 'sun': 7} -%}
{%- set rows = [] -%}
{%- for day in funnel_definitions().sla.business_hours.days -%}
    {%- do rows.append([numbers[day]]) -%}
{%- endfor -%}

{{ rows_as_relation(rows, [('iso_day_of_week', dbt.type_int())]) }}
