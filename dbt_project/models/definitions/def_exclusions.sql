{#- Who never becomes an MQL. priority: the lower, the more specific the reason; the rules on
    any lead attribute (exclusions.rules) come after the built-in lists, in their order. -#}
{%- set x = funnel_definitions().exclusions -%}
{%- set specs = [
    ('test_record', 1, 'email_domain', 'equals', x.test_domains),
    ('test_record', 1, 'email_local_part', 'prefix', x.test_email_prefixes),
    ('competitor', 2, 'email_domain', 'equals', x.competitor_domains),
    ('competitor', 2, 'company_domain', 'equals', x.competitor_domains),
    ('own_company', 3, 'email_domain', 'equals', x.own_domains),
    ('own_company', 3, 'company_domain', 'equals', x.own_domains),
    ('student_or_intern', 4, 'job_title', 'contains', x.title_keywords),
    ('student_or_intern', 4, 'seniority', 'equals', x.seniorities),
    ('personal_email', 5, 'email_domain', 'equals', x.personal_email_domains),
] -%}
{%- for rule in x.rules -%}
    {%- do specs.append((rule.reason, 5 + loop.index, rule.attribute,
                         'equals' if rule.match == 'in' else rule.match, rule['values'])) -%}
{%- endfor -%}
{%- set rows = [] -%}
{%- for reason, priority, field, match, values in specs -%}
    {%- for value in values -%}
        {%- do rows.append([reason, priority, field, match, value, priority > 5]) -%}
    {%- endfor -%}
{%- endfor -%}

{{ rows_as_relation(rows, [
    ('exclusion_reason', dbt.type_string()),
    ('priority', dbt.type_int()),
    ('field_name', dbt.type_string()),
    ('match_type', dbt.type_string()),
    ('match_value', dbt.type_string()),
    ('reads_lead_attribute', dbt.type_boolean()),
]) }}
