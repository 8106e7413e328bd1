{#- One row per channel rule condition value. A rule matches a lead when every field it
    names matches one of its values; the lowest rule_order wins. -#}
{%- set channels = funnel_definitions().channels -%}
{%- set rows = [] -%}
{%- for rule in channels.rules -%}
    {%- set rule_order = loop.index -%}
    {#- every condition the rule sets (ChannelRule in orchestration/funnel_definitions.py) -#}
    {%- for field, values in rule.items() if field != 'group' -%}
        {%- for value in (values or []) -%}
            {%- do rows.append([rule_order, rule.group, field, value]) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('rule_order', dbt.type_int()),
    ('channel_group', dbt.type_string()),
    ('field_name', dbt.type_string()),
    ('field_value', dbt.type_string()),
]) }}
