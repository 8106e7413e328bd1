{#- The fit rules a lead matched, as "rule_a, rule_b" in rule-id order, without a list per
    lead: each rule is one bit of a bigint mask (62 rules per mask), OR-ed per lead
    (fit_rule_mask_aggregates) and spelled out again (matched_fit_rules_label). At 10 M
    leads a list aggregate spilled past the memory limit: 41 of the model's 58 s. -#}

{#- Each rule id in id order with its mask number and bit value. The ids are read from
    def_fit_rules when the model runs (nothing is needed to parse it): outside
    models/definitions/ no model reads the definitions var. A caller declares
    `-- depends_on: {{ ref('def_fit_rules') }}`; a unit test overrides fit_rule_bits. -#}
{% macro fit_rule_bits() -%}
    {%- set bits = [] -%}
    {%- if execute -%}
        {%- set ids = run_query("select distinct rule_id from " ~ ref('def_fit_rules')).columns[0].values() -%}
        {%- for id in ids | sort -%}
            {%- do bits.append((id, loop.index0 // 62, 2 ** (loop.index0 % 62))) -%}
        {%- endfor -%}
    {%- endif -%}
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
