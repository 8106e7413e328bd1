{#- Incremental on lead_id: only rows loaded since the last build are read (a newer version
    of a lead carries the later load time, so it replaces the staged one). -#}
{{ config(materialized=incremental_if_supported(), unique_key=var('extract_keys')['crm_leads'], incremental_strategy='delete+insert') }}

with source as (
    select * from {{ source('raw', 'crm_leads') }}
),

renamed as (
    select
        lead_id,
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        lower({{ clean_text('email') }}) as email,
        lower({{ clean_text(dbt.split_part('email', "'@'", 2)) }}) as email_domain,
        {{ clean_text('job_title') }} as job_title,
        {{ normalise_category('seniority') }} as seniority,
        {{ normalise_category('department') }} as department,
        {{ clean_text('company_name') }} as company_name,
        lower({{ clean_text('company_domain') }}) as company_domain,
        {{ normalise_category('industry') }} as industry,
        employee_count,
        upper({{ clean_text('country_code') }}) as country_code,
        {{ normalise_category('acquisition_mode') }} as acquisition_mode,
        {{ normalise_category('lead_source') }} as lead_source,
        lower({{ clean_text('utm_source') }}) as utm_source,
        lower({{ clean_text('utm_medium') }}) as utm_medium,
        lower({{ clean_text('utm_campaign') }}) as utm_campaign,
        {{ clean_text('owner_id') }} as owner_id,
        {{ normalise_category('crm_lifecycle_stage') }} as crm_lifecycle_stage,
        {{ clean_text('merged_into_lead_id') }} as merged_into_lead_id,
        extra as extra_attributes,
        _file_name as source_file_name,
        _loaded_at as loaded_at
    from source
    {{ loaded_since_last_build() }}
)

select * from renamed
