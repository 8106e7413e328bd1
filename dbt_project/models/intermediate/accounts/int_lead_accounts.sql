{#- One row per lead that belongs to an account: the account's key from the lead attribute
    the definitions name (accounts.key: the company's domain by default, its e-mail domain or
    name, or the CRM's own account id declared under lead_attributes), trimmed and in lower case - a domain also
    without its scheme and `www.`. Excluded leads (personal e-mail, competitors, test
    records, students) belong to no account: they are no buyer's contacts.

    A lead's row depends on its own rows alone: incremental by lead
    (macros/by_lead_incremental.sql), so a daily run redoes the day's leads, not a million. -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

settings as (
    select * from {{ ref('def_settings') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}{{ of_rebuilt_leads() }}
),

-- an export's own column (the CRM's account id, declared under lead_attributes)
own_keys as (
    select a.lead_id, a.attribute_value
    from {{ ref('int_lead_attributes') }} as a
    inner join settings as s on a.attribute = s.account_key
    {{- of_rebuilt_leads('a.lead_id') }}
),

fields as (
    select
        l.lead_id,
        s.account_key,
        case s.account_key
            when 'company_domain' then l.company_domain
            when 'email_domain' then l.email_domain
            when 'company_name' then l.company_name
            else o.attribute_value
        end as field_value
    from leads as l
    cross join settings as s
    left join own_keys as o on l.lead_id = o.lead_id
),

trimmed as (
    select
        lead_id,
        account_key in ('company_domain', 'email_domain') as is_domain,
        lower(trim(field_value)) as value
    from fields
),

-- a domain without its scheme and `www.`
unschemed as (
    select
        lead_id,
        is_domain,
        case
            when is_domain and value like 'https://%' then substr(value, 9)
            when is_domain and value like 'http://%' then substr(value, 8)
            else value
        end as value
    from trimmed
),

keyed as (
    select
        lead_id,
        case when is_domain and value like 'www.%' then substr(value, 5) else value end
            as account_key
    from unschemed
),

final as (
    select
        k.lead_id,
        k.account_key,
        l.company_name,
        l.segment,
        l.employee_count,
        l.acquisition_mode,
        l.owner_id
    from keyed as k
    inner join leads as l on k.lead_id = l.lead_id
    where not l.is_excluded and k.account_key is not null and k.account_key <> ''
)

select * from final
