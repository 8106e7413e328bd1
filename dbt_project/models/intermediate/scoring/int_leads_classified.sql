{#- One row per lead: segment, channel group, exclusion and fit score, all decided by the
    def_* tables. Incremental by lead (macros/by_lead_incremental.sql). -#}
{{ by_lead_incremental() }}
-- depends_on: {{ ref('def_fit_rules') }}

with {{ rebuilt_leads_cte() }}

-- A full build reads the table once per field instead of spilling a copy of every lead.
leads as {% if not is_incremental() %}{{ inline_cte() }} {% endif %}(
    select * from {{ ref('stg_crm__leads') }}
    {{- of_rebuilt_leads() }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

segments as (
    select * from {{ ref('def_segments') }}
),

segment_values as (
    select * from {{ ref('def_segment_values') }}
),

channel_rules as (
    select * from {{ ref('def_channel_rules') }}
),

exclusions as (
    select * from {{ ref('def_exclusions') }}
),

fit_matches as (
    select * from {{ ref('int_lead_fit_matches') }}
    {%- if is_incremental() %}
    where lead_id in (select lead_id from leads)
    {%- endif %}
),

-- Channel: the first rule whose every condition matches.
channel_fields as (
    {{ unpivot_fields('leads', 'lead_id', [
        ('lead_source', 'lead_source'),
        ('utm_source', 'utm_source'),
        ('utm_medium', 'utm_medium'),
        ('utm_campaign', 'utm_campaign'),
        ('acquisition_mode', 'acquisition_mode'),
    ]) }}
),

first_channel as (
    {{ first_matching_channel('channel_fields', 'lead_id', 'channel_rules') }}
),

-- Exclusions: the most specific matching reason. Equality rules are a hash join, only
-- substring rules test every value of their field. Each of the two normalises the values
-- itself: a shared copy of 5 values per lead spilled at 10 M leads.
exclusion_fields as {{ inline_cte() }} (
    select lead_id, field_name, {{ normalise_category('field_value') }} as field_value
    from (
        {{ unpivot_fields('leads', 'lead_id', [
            ('email_domain', 'email_domain'),
            ('company_domain', 'company_domain'),
            ('job_title', 'job_title'),
            ('seniority', 'seniority'),
            ('email_local_part', dbt.split_part('email', "'@'", 1)),
        ]) }}
        -- the attributes exclusions.rules test (the export's own ones included; none: no rows)
        union all
        select lead_id, field_name, field_value
        from {{ ref('int_lead_fit_fields') }}
        where field_name in (select field_name from exclusions where reads_lead_attribute)
            {{- of_rebuilt_leads(keyword='and') }}
    ) as unpivoted
),

exclusion_rules as (
    select
        field_name,
        match_type,
        {{ normalise_category('match_value') }} as match_value,
        exclusion_reason,
        priority
    from exclusions
),

exclusion_hits as (
    select f.lead_id, e.exclusion_reason, e.priority
    from exclusion_fields as f
    inner join exclusion_rules as e
        on f.field_name = e.field_name and f.field_value = e.match_value
    where e.match_type = 'equals'
    union all
    select f.lead_id, e.exclusion_reason, e.priority
    from exclusion_fields as f
    inner join exclusion_rules as e
        on f.field_name = e.field_name
    where
        (e.match_type = 'contains'
            and {{ dbt.position('e.match_value', 'f.field_value') }} > 0)
        or (e.match_type = 'prefix'
            and {{ dbt.position('e.match_value', 'f.field_value') }} = 1)
),

exclusion_matches as (
    select
        lead_id,
        exclusion_reason
    from (
        select
            lead_id,
            exclusion_reason,
            row_number() over (partition by lead_id order by priority, exclusion_reason) as reason_rank
        from exclusion_hits
    ) as ranked
    where reason_rank = 1
),

-- Segments: the first (sort_order) whose band or values the lead matches.
segment_fields as (
    select lead_id, field_name, {{ normalise_category('field_value') }} as field_value
    from {{ ref('int_lead_fit_fields') }}
    where field_name in (select attribute from segments where attribute is not null)
        {{- of_rebuilt_leads(keyword='and') }}
),

segment_hits as (
    select l.lead_id, seg.segment, seg.segment_label, seg.sort_order
    from leads as l
    inner join segments as seg
        on seg.attribute is null
        and l.employee_count >= seg.min_employees
        and (seg.max_employees is null or l.employee_count <= seg.max_employees)
    union all
    select f.lead_id, seg.segment, seg.segment_label, seg.sort_order
    from segment_fields as f
    inner join segment_values as v
        on f.field_name = v.attribute and f.field_value = {{ normalise_category('v.match_value') }}
    inner join segments as seg on v.segment = seg.segment
),

lead_segments as (
    {{ first_row_per('segment_hits', 'lead_id', 'sort_order') }}
),

fit_scores as (
    select
        lead_id,
        sum(points) as fit_points{{ fit_rule_mask_aggregates('rule_id') }}
    from fit_matches
    group by lead_id
),

final as (
    select
        l.lead_id,
        l.created_at,
        l.updated_at,
        l.acquisition_mode,
        coalesce(c.channel_group, s.default_channel_group) as channel_group,
        coalesce(seg.segment, 'unknown') as segment,
        coalesce(seg.segment_label, 'Unknown') as segment_label,
        l.industry,
        l.employee_count,
        l.country_code,
        l.department,
        l.seniority,
        l.email_domain,
        l.company_name,
        l.company_domain,
        l.lead_source,
        l.utm_source,
        l.utm_medium,
        l.utm_campaign,
        l.owner_id,
        l.crm_lifecycle_stage,
        x.exclusion_reason,
        x.exclusion_reason is not null as is_excluded,
        coalesce(fs.fit_points, 0) as fit_points_raw,
        {{ clamp_score('coalesce(fs.fit_points, 0)') }} as fit_score,
        {{ matched_fit_rules_label('fs') }} as matched_fit_rules,
        s.definitions_version
    from leads as l
    cross join settings as s
    left join first_channel as c on l.lead_id = c.lead_id
    left join exclusion_matches as x on l.lead_id = x.lead_id
    left join fit_scores as fs on l.lead_id = fs.lead_id
    left join lead_segments as seg on l.lead_id = seg.lead_id
)

select * from final
