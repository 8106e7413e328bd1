{#- The first channel rule whose every condition matches, for any relation of
    (id, field_name, field_value) rows. Used for leads (lead_source, UTMs, acquisition mode)
    and for ad spend (UTMs), so both follow the same rules of the definitions file.
    Rules naming a field the relation does not have can never match it. -#}
{% macro first_matching_channel(fields_relation, id_column, rules_relation) %}
    select {{ id_column }}, channel_group
    from (
        select
            m.{{ id_column }},
            m.channel_group,
            row_number() over (partition by m.{{ id_column }} order by m.rule_order) as match_rank
        from (
            select
                f.{{ id_column }},
                r.rule_order,
                r.channel_group,
                count(distinct r.field_name) as n_matched
            from {{ fields_relation }} as f
            inner join {{ rules_relation }} as r
                on f.field_name = r.field_name
                and {{ normalise_category('f.field_value') }} = {{ normalise_category('r.field_value') }}
            group by f.{{ id_column }}, r.rule_order, r.channel_group
        ) as m
        inner join (
            select rule_order, count(distinct field_name) as n_fields
            from {{ rules_relation }}
            group by rule_order
        ) as s on m.rule_order = s.rule_order
        where m.n_matched = s.n_fields
    ) as ranked
    where match_rank = 1
{% endmacro %}
