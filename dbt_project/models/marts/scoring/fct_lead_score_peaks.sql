{#- One row per lead: what the MQL rule needs to replay history under another threshold,
    minimum fit or weights without rescoring - the lead's fit, its peak engagement over the
    activities that could have made it MQL (from its creation to its SQL, or first
    opportunity; none in a closed episode or before a return - macros/definitions.sql),
    and whether it did a fast-track activity then. The
    lead score is monotonic in engagement, so a lead reaches threshold t at some moment if and
    only if round(fit_weight x fit + engagement_weight x peak engagement) >= t.
    Incremental by lead, like the lifecycle it reads (macros/by_lead_incremental.sql). -#}
{{ by_lead_incremental() }}

with {{ rebuilt_leads_cte() }}

leads as (
    select * from {{ ref('int_leads_classified') }}{{ of_rebuilt_leads() }}
),

lifecycle as (
    select * from {{ ref('fct_lead_lifecycle') }}{{ of_rebuilt_leads() }}
),

activities as (
    select * from {{ ref('int_activities_scored') }}{{ of_rebuilt_leads(built_at='built_at') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- As in the lifecycle, an MQL counts only when it came before the lead's SQL (or, without
-- one, its first opportunity): later activities cannot make it MQL.
peaks as (
    select
        a.lead_id,
        max(a.engagement_score) as peak_engagement_score,
        max(case when a.is_fast_track then 1 else 0 end) = 1 as has_fast_track_activity
    from activities as a
    inner join lifecycle as lc on a.lead_id = lc.lead_id
    where a.is_mql_eligible
        and a.occurred_at <= coalesce(lc.sql_at, lc.opportunity_at, a.occurred_at)
    group by a.lead_id
),

final as (
    select
        l.lead_id,
        l.created_at,
        cast({{ dbt.date_trunc('week', utc_to_local('l.created_at', 's.reporting_timezone')) }} as date)
            as created_week_start_date,
        l.acquisition_mode,
        l.is_excluded,
        l.fit_score,
        coalesce(p.peak_engagement_score, 0) as peak_engagement_score,
        coalesce(p.has_fast_track_activity, false) as has_fast_track_activity,
        lc.mql_at is not null as is_mql,
        lc.sql_at is not null as is_sql,
        -- the stage the definitions' outcome names (calibration.outcome), ever reached
        case s.calibration_outcome
            when 'sql' then lc.sql_at is not null
            when 'opportunity' then lc.opportunity_at is not null
            else lc.customer_at is not null
        end as reached_outcome,
        s.definitions_version
    from leads as l
    inner join lifecycle as lc on l.lead_id = lc.lead_id
    cross join settings as s
    left join peaks as p on l.lead_id = p.lead_id
)

select * from final
