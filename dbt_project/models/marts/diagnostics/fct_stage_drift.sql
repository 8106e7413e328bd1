{#- Where the CRM's own lifecycle stage disagrees with these definitions, by channel: leads
    the CRM calls MQL (or further) that the definitions never qualified, and the reverse; the
    same for SQL. The "artificial indicator" problem made visible. -#}
with lifecycle as (
    select * from {{ ref('fct_lead_lifecycle') }}
),

leads as (
    select lead_id, crm_lifecycle_stage from {{ ref('int_leads_classified') }}
),

stage_map as (
    select * from {{ ref('def_crm_stage_map') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

compared as (
    select
        l.lead_id,
        l.channel_group,
        m.stage_rank as crm_rank,
        case
            when l.customer_at is not null then 5
            when l.opportunity_at is not null then 4
            when l.sql_at is not null then 3
            when l.mql_at is not null or l.latest_mql_at is not null then 2
            else 1
        end as computed_rank
    from lifecycle as l
    inner join leads as c on l.lead_id = c.lead_id
    inner join stage_map as m on {{ normalise_category('c.crm_lifecycle_stage') }} = m.crm_stage
),

by_channel as (
    select
        channel_group,
        count(*) as leads_with_crm_stage,
        cast(sum(case when crm_rank >= 2 and computed_rank < 2 then 1 else 0 end) as {{ dbt.type_bigint() }}) as crm_mql_not_qualified,
        cast(sum(case when crm_rank < 2 and computed_rank >= 2 then 1 else 0 end) as {{ dbt.type_bigint() }}) as qualified_mql_not_in_crm,
        cast(sum(case when crm_rank >= 3 and computed_rank < 3 then 1 else 0 end) as {{ dbt.type_bigint() }}) as crm_sql_not_qualified,
        cast(sum(case when crm_rank < 3 and computed_rank >= 3 then 1 else 0 end) as {{ dbt.type_bigint() }}) as qualified_sql_not_in_crm,
        cast(sum(case when crm_rank <> computed_rank then 1 else 0 end) as {{ dbt.type_bigint() }}) as stage_disagreements
    from compared
    group by channel_group
)

select
    b.*,
    {{ safe_divide('1.0 * b.stage_disagreements', 'b.leads_with_crm_stage') }} as drift_share,
    s.drift_warn_share,
    s.definitions_version
from by_channel as b
cross join settings as s
