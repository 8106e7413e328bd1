{#- Every day from 2000 to 2099 with its ISO week: the spine for spreading monthly costs,
    counting business hours and completing weeks with zeros. -#}
with days as (
    {{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2100-01-01' as date)") }}
)

select
    cast(date_day as date) as calendar_date,
    cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start_date,
    {{ iso_day_of_week('date_day') }} as iso_day_of_week
from days
