{#- One row per lead for BI: who it is (firmographics, never e-mail or names), where it came
    from, how it scores now, and where it stands. -#}
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

scores as (
    select * from {{ ref('int_lead_scores_current') }}
),

lifecycle as (
    select * from {{ ref('fct_lead_lifecycle') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

channel_labels as (
    select code as channel_group, label as channel_group_label
    from {{ ref('def_labels') }}
    where dimension = 'channel_group'
),

final as (
    select
        l.lead_id,
        l.created_at,
        -- dates people group by are the reporting time zone's, like every weekly mart
        cast({{ utc_to_local('l.created_at', 'st.reporting_timezone') }} as date) as created_date,
        cast({{ dbt.date_trunc('week', utc_to_local('l.created_at', 'st.reporting_timezone')) }} as date)
            as created_week_start_date,
        l.acquisition_mode,
        l.channel_group,
        coalesce(cl.channel_group_label, l.channel_group) as channel_group_label,
        l.lead_source,
        l.utm_source,
        l.utm_medium,
        l.utm_campaign,
        l.segment,
        l.segment_label,
        l.industry,
        l.employee_count,
        l.country_code,
        l.department,
        l.seniority,
        l.company_name,
        l.company_domain,
        l.owner_id,
        l.fit_score,
        l.matched_fit_rules,
        s.engagement_score,
        s.lead_score,
        s.last_activity_at,
        s.scored_as_of_at,
        l.is_excluded,
        l.exclusion_reason,
        c.current_stage,
        l.crm_lifecycle_stage,
        l.definitions_version
    from leads as l
    inner join scores as s on l.lead_id = s.lead_id
    inner join lifecycle as c on l.lead_id = c.lead_id
    cross join settings as st
    left join channel_labels as cl on l.channel_group = cl.channel_group
)

select * from final
