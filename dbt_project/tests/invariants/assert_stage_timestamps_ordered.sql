{#- Stage timestamps never decrease along lead -> MQL -> SQL -> opportunity -> customer,
    and outbound leads have no MQL stage. -#}
select *
from {{ ref('fct_lead_lifecycle') }}
where mql_at < lead_created_at
    or sql_at < coalesce(mql_at, lead_created_at)
    or opportunity_at < coalesce(sql_at, mql_at, lead_created_at)
    or customer_at < coalesce(opportunity_at, sql_at, mql_at, lead_created_at)
    or (acquisition_mode = 'outbound' and mql_at is not null)
    or (is_excluded and mql_at is not null)
