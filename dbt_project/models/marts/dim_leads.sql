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

final as (
    select
        l.lead_id,
        l.created_at,
        cast(l.created_at as date) as created_date,
        l.acquisition_mode,
        l.channel_group,
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
)

select * from final
