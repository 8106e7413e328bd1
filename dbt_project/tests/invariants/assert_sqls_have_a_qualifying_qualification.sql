{#- Every SQL rests on a qualification accepted by a rep that meets the SQL rule, at sql_at. -#}
select l.lead_id, l.sql_at
from {{ ref('fct_lead_lifecycle') }} as l
left join {{ ref('int_qualifications_evaluated') }} as q
    on l.lead_id = q.lead_id and q.qualified_at = l.sql_at and q.is_sql_qualification
where l.sql_at is not null and q.qualification_id is null
