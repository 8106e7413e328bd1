{#- Every opportunity with its lead's dimensions and its amount in the reporting currency:
    pipeline at the rate of its creation day, won amount at the rate of its closing day.
    An opportunity whose lead is missing from the CRM extract is kept (segment `unknown`, the
    default channel group, mode `unknown`) - it is also listed in fct_definition_exceptions. -#}
with opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

fx as (
    select * from {{ ref('int_fx_rate_ranges') }}
),

dated as (
    select
        o.*,
        cast({{ utc_to_local('o.created_at', 's.reporting_timezone') }} as date) as created_local_date,
        cast({{ utc_to_local('o.closed_at', 's.reporting_timezone') }} as date) as closed_local_date,
        coalesce(o.currency, s.reporting_currency) as amount_currency
    from opportunities as o
    cross join settings as s
),

converted as (
    select
        d.*,
        {{ fx_rate_for('d.amount_currency', 'd.created_local_date') }} as created_fx_rate,
        case when d.is_won then {{ fx_rate_for('d.amount_currency', 'd.closed_local_date', 'fx_closed') }} end
            as closed_fx_rate
    from dated as d
    cross join settings as s
    left join fx on {{ fx_join_condition('d.amount_currency', 'd.created_local_date') }}
    left join fx as fx_closed
        on d.is_won and {{ fx_join_condition('d.amount_currency', 'd.closed_local_date', 'fx_closed') }}
),

check_created as (
    {{ assert_converted('converted', 'created_fx_rate', 'amount_currency', 'created_local_date') }}
),

check_closed as (
    {{ assert_converted('(select * from converted where is_won and closed_at is not null)', 'closed_fx_rate', 'amount_currency', 'closed_local_date') }}
),

final as (
    select
        c.opportunity_id,
        c.lead_id,
        coalesce(l.segment, 'unknown') as segment,
        coalesce(l.channel_group, s.default_channel_group) as channel_group,
        coalesce(l.acquisition_mode, 'unknown') as acquisition_mode,
        c.created_at,
        c.closed_at,
        cast({{ dbt.date_trunc('week', 'c.created_local_date') }} as date) as created_week,
        cast({{ dbt.date_trunc('week', 'c.closed_local_date') }} as date) as closed_week,
        c.is_closed,
        c.is_won,
        c.amount_currency,
        c.amount as amount_original,
        {{ converted_amount('coalesce(c.amount, 0)', 'c.created_fx_rate') }} as pipeline_amount,
        case when c.is_won then {{ converted_amount('coalesce(c.amount, 0)', 'c.closed_fx_rate') }} end
            as won_amount
    from converted as c
    cross join check_created as k1
    cross join check_closed as k2
    cross join settings as s
    left join leads as l on c.lead_id = l.lead_id
    where k1.failure is null and k2.failure is null
)

select * from final
