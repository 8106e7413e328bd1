{#- One row per channel group the facts carry (the definitions' groups, and the group of
    spend no rule maps), with its label and acquisition mode. -#}
with labels as (
    select * from {{ ref('def_labels') }}
),

groups as (
    select * from {{ ref('def_channel_groups') }}
),

settings_in_force as (
    select definitions_version from {{ ref('def_settings') }}
),

final as (
    select
        l.code as channel_group,
        l.label as channel_label,
        l.sort_order,
        g.acquisition_mode,
        m.label as acquisition_mode_label,
        v.definitions_version
    from labels as l
    cross join settings_in_force as v
    left join groups as g on l.code = g.channel_group
    left join labels as m on m.dimension = 'acquisition_mode' and g.acquisition_mode = m.code
    where l.dimension = 'channel_group'
)

select * from final
