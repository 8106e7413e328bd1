{#- A stage's moment on the lead's path (fct_lead_lifecycle): the first moment the source gives
    for it (`first_at`), never before the lead's creation (an earlier one counts from the
    creation) and never after the next stage on the path (`ceiling_at`). A moment after the
    next stage is no stage of the path when our rules computed it (NULL: the stage was
    skipped), and is kept at the next stage's time when the CRM recorded it
    (stage_source crm): a recorded stage never vanishes. -#}
{% macro stage_on_path(first_at, created_at, ceiling_at, stage_source) -%}
    case
        when {{ first_at }} < {{ created_at }} then {{ created_at }}
        when {{ ceiling_at }} is null or {{ first_at }} <= {{ ceiling_at }} then {{ first_at }}
        when {{ stage_source }} = 'crm' then {{ ceiling_at }}
    end
{%- endmacro %}
