{#- The fit rules a lead matched, as "rule_a, rule_b" in rule-id order, without a list per
    lead: each rule is one bit of a bigint mask (62 rules per mask), OR-ed per lead
    (fit_rule_mask_aggregates) and spelled out again (matched_fit_rules_label). At 10 M
    leads a list aggregate spilled past the memory limit: 41 of the model's 58 s. -#}

{#- Each rule id in id order with its mask number and bit value. -#}
{% macro fit_rule_bits() -%}
    {%- set bits = [] -%}
    {%- for id in funnel_definitions().fit_rules | map(attribute='id') | unique | sort -%}
        {%- do bits.append((id, loop.index0 // 62, 2 ** (loop.index0 % 62))) -%}
    {%- endfor -%}
    {{ return(bits) }}
{%- endmacro %}

{#- ", bit_or(...) as fit_rule_mask_N" for each mask: nothing when there are no fit rules. -#}
{% macro fit_rule_mask_aggregates(rule_id_column) -%}
    {%- for mask, rules in fit_rule_bits() | groupby(1) %},
        bit_or(case {{ rule_id_column }}
            {%- for id, _, bit in rules %} when '{{ id }}' then {{ bit }}{% endfor %}
        end) as fit_rule_mask_{{ mask }}
    {%- endfor %}
{%- endmacro %}

{% macro matched_fit_rules_label(relation_alias) -%}
    {%- set bits = fit_rule_bits() -%}
    {%- if bits %}
    nullif(concat_ws(', '
        {%- for id, mask, bit in bits %},
        case when {{ relation_alias }}.fit_rule_mask_{{ mask }} & {{ bit }} <> 0 then '{{ id }}' end
        {%- endfor %}), '')
    {%- else -%}
    cast(null as {{ dbt.type_string() }})
    {%- endif %}
{%- endmacro %}
