{#- The fit rules a lead matched, as "rule_a, rule_b" in rule-id order, without a list per
    lead: each rule is one bit of a bigint mask (62 rules per mask), OR-ed per lead
    (fit_rule_mask_aggregates) and spelled out again (matched_fit_rules_label). At 10 M
    leads a list aggregate spilled past the memory limit: 41 of the model's 58 s. -#}
{% macro fit_rule_ids() -%}
    {{ return(funnel_definitions().fit_rules | map(attribute='id') | unique | sort | list) }}
{%- endmacro %}

{#- ", bit_or(...) as fit_rule_mask_N" for each mask: nothing when there are no fit rules. -#}
{% macro fit_rule_mask_aggregates(rule_id_column) -%}
    {%- set ids = fit_rule_ids() -%}
    {%- for word in range((ids | length + 61) // 62) %},
        bit_or(case {{ rule_id_column }}
            {%- for id in ids[word * 62:(word + 1) * 62] %} when '{{ id }}' then {{ 2 ** loop.index0 }}{% endfor %}
        end) as fit_rule_mask_{{ word }}
    {%- endfor %}
{%- endmacro %}

{% macro matched_fit_rules_label(relation_alias) -%}
    {%- set ids = fit_rule_ids() -%}
    {%- if ids %}
    nullif(concat_ws(', '
        {%- for id in ids %}
        {%- set word, bit = loop.index0 // 62, loop.index0 % 62 %},
        case when {{ relation_alias }}.fit_rule_mask_{{ word }} & {{ 2 ** bit }} <> 0 then '{{ id }}' end
        {%- endfor %}), '')
    {%- else -%}
    cast(null as {{ dbt.type_string() }})
    {%- endif %}
{%- endmacro %}
