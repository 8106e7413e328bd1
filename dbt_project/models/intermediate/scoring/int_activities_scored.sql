{#- One row per prospect activity, with the lead's score right after it (SPEC §6).

    engagement(t) = clamp(sum of counted_points_i * 0.5 ^ ((t - t_i) / half_life), 0, 100),
    where a rule stops counting once it has added `cap` points in the engagement episode.
    Computed in O(activities) with one running sum per lead and episode:
        sum_i counted_i * 2 ^ ((t_i - t0) / h)   scaled by   2 ^ (-(t - t0) / h),
    where t0, the episode's first activity, keeps the exponent bounded.
    Episodes (SPEC §7): a recycle or a rejection for a nurture reason starts a new one (by
    default engagement restarts from zero); the lead may become an MQL in it again, once
    recycle.return_after_days have passed and with recycle.return_min_engagement. A
    disqualifying rejection closes its episode: no MQL in it any more.

    Incremental by lead (macros/by_lead_incremental.sql): a daily run rescores only the leads with
    new rows, from their whole history. A big build scores its leads in buckets whose sorts
    fit in memory: ranges of lead_id (macros/lead_buckets.sql).
-#}
{{ by_lead_incremental(post_hook="{{ insert_other_lead_buckets() }}") }}
{%- set bucket_bounds = lead_bucket_bounds(lead_bucket_count()) %}

with {{ rebuilt_leads_cte() }}

leads as (
    select * from {{ ref('int_leads_classified') }}
    where {{ in_lead_bucket(bucket_bounds) }}
        {{- of_rebuilt_leads(keyword='and') }}
),

prospect_activities as (
    select * from {{ ref('stg_crm__activities') }}
    where coalesce(actor, 'prospect') = 'prospect'
        and {{ in_lead_bucket(bucket_bounds) }}
        {{- of_rebuilt_leads(keyword='and') }}
),

-- The lead's columns join here, on the scan: joined after the windows, DuckDB misjudged
-- which side is smaller and hashed every scored activity instead of the bucket's leads.
-- The sorts below carry every column: the lead's part of the MQL eligibility goes through
-- them as one boolean, not as the three columns it reads.
activities as (
    select
        a.activity_id,
        a.lead_id,
        a.occurred_at,
        a.activity_type,
        a.quantity,
        l.fit_score,
        {{ lead_may_become_mql('l.acquisition_mode', 'l.is_excluded', 'a.occurred_at', 'l.created_at') }}
            as is_lead_eligible
    from prospect_activities as a
    inner join leads as l on a.lead_id = l.lead_id
),

qualifications as (
    select * from {{ ref('int_qualifications_evaluated') }}
    where (starts_episode or ends_episode)
        and {{ in_lead_bucket(bucket_bounds) }}
        {{- of_rebuilt_leads(keyword='and') }}
),

rules as (
    select * from {{ ref('def_engagement_rules') }}
),

settings as (
    select * from {{ ref('def_settings') }}
),

-- Sales decisions that shape episodes: a recycle or a nurtured rejection starts a new one;
-- a disqualifying rejection ends the current one (no MQL in it any more).
decisions as (
    select lead_id, qualification_id, qualified_at, starts_episode
    from qualifications
),

-- Only a lead with such a decision has more than one episode or a closed one: only its
-- activities need the sort that numbers episodes (every other activity is in episode 0).
decided_leads as (
    select distinct lead_id from decisions
),

-- A decision at the same moment as an activity comes first: the activity is in the new episode.
-- Activities carry their columns through the sort (joining them back by id would cost a
-- second pass over every activity).
timeline as (
    select
        a.lead_id,
        a.activity_id,
        a.occurred_at as event_at,
        1 as event_order,
        0 as is_recycle,
        0 as is_episode_end,
        a.activity_type,
        a.quantity,
        a.fit_score,
        a.is_lead_eligible
    from activities as a
    semi join decided_leads as r on a.lead_id = r.lead_id
    union all
    select
        lead_id,
        qualification_id,
        qualified_at,
        0,
        case when starts_episode then 1 else 0 end,
        case when starts_episode then 0 else 1 end,
        null,
        null,
        null,
        null
    from decisions
),

numbered as (
    select
        *,
        cast(sum(is_recycle) over lead_history as integer) as episode,  -- not HUGEINT: every sort below carries it
        max(case when is_recycle = 1 then event_at end) over lead_history as episode_opened_at,
        max(case when is_episode_end = 1 then event_at end) over lead_history as last_end_at
    from timeline
    window lead_history as (
        partition by lead_id order by event_at, event_order, activity_id
        rows between unbounded preceding and current row
    )
),

episodes as (
    select
        lead_id,
        activity_id,
        event_at as occurred_at,
        activity_type,
        quantity,
        fit_score,
        is_lead_eligible,
        is_recycle + is_episode_end as is_decision,
        episode,
        episode_opened_at,
        coalesce(last_end_at >= episode_opened_at or (last_end_at is not null and episode_opened_at is null), false)
            as is_closed_episode
    from numbered
    union all
    select
        a.lead_id,
        a.activity_id,
        a.occurred_at,
        a.activity_type,
        a.quantity,
        a.fit_score,
        a.is_lead_eligible,
        0,
        0,
        null,
        false
    from activities as a
    anti join decided_leads as r on a.lead_id = r.lead_id
),

activity_episodes as (
    select
        e.activity_id,
        e.lead_id,
        e.occurred_at,
        e.activity_type,
        e.fit_score,
        e.is_lead_eligible,
        e.episode,
        {{ episode_mql_gate('e.is_closed_episode', 'e.episode_opened_at', 'e.occurred_at', 's.return_after_days') }}
            as episode_mql_gate,
        case when s.recycle_resets_engagement then e.episode else 0 end as score_episode,
        -- a per-unit rule counts the activity's quantity (none given: one unit)
        coalesce(r.points, 0) * case when r.is_per_unit then coalesce(e.quantity, 1) else 1 end
            as rule_points,
        r.cap_points,
        coalesce(r.is_fast_track, false) as is_fast_track
    from episodes as e
    cross join settings as s
    left join rules as r on e.activity_type = r.activity_type
    where e.is_decision = 0
),

-- An aggregate and a join cost less than a window partitioned by episode.
episode_origins as (
    select
        lead_id,
        score_episode,
        min(occurred_at) as episode_origin_at
    from activity_episodes
    group by lead_id, score_episode
),

capped as (
    select
        a.*,
        o.episode_origin_at,
        coalesce(sum(a.rule_points) over (
            partition by a.lead_id, a.score_episode, a.activity_type
            order by a.occurred_at, a.activity_id
            rows between unbounded preceding and 1 preceding
        ), 0) as rule_points_before
    from activity_episodes as a
    inner join episode_origins as o
        on a.lead_id = o.lead_id and a.score_episode = o.score_episode
),

counted as (
    select
        *,
        case
            when cap_points is null or rule_points <= 0 then rule_points
            else greatest(0, least(rule_points, cap_points - rule_points_before))
        end as counted_points,
        {{ dbt.datediff('episode_origin_at', 'occurred_at', 'second') }} / 86400.0 as days_from_origin
    from capped
),

running as (
    select
        c.*,
        s.half_life_days,
        sum(c.counted_points * power(2.0, c.days_from_origin / s.half_life_days)) over (
            partition by c.lead_id, c.score_episode
            order by c.occurred_at, c.activity_id
            rows between unbounded preceding and current row
        ) as decayed_sum_at_origin
    from counted as c
    cross join settings as s
),

scored as (
    select
        r.activity_id,
        r.lead_id,
        r.occurred_at,
        r.activity_type,
        r.episode,
        r.score_episode,
        r.episode_origin_at,
        r.episode_mql_gate,
        r.rule_points,
        r.cap_points,
        r.counted_points,
        r.is_fast_track,
        r.decayed_sum_at_origin,
        r.decayed_sum_at_origin * power(0.5, r.days_from_origin / r.half_life_days) as engagement_raw,
        r.fit_score,
        r.is_lead_eligible
    from running as r
),

final as (
    select
        sc.*,
        {{ clamp_score('sc.engagement_raw') }} as engagement_score,
        {{ round_score('s.fit_weight * sc.fit_score + s.engagement_weight * ' ~ clamp_score('sc.engagement_raw')) }} as lead_score,
        s.mql_threshold,
        s.mql_min_fit,
        s.fit_weight,
        s.engagement_weight,
        s.return_after_days,
        s.return_min_engagement
    from scored as sc
    cross join settings as s
),

eligible as (
    select *,
        {{ may_become_mql('is_lead_eligible', 'episode_mql_gate', 'engagement_score',
                          'return_min_engagement') }} as is_mql_eligible
    from final
)

-- Only what readers need is written (27.7 M rows at 1 M leads, each column costs): the
-- lead's columns and the settings the MQL rule read stay in int_leads_classified and
-- def_settings, the rule's verdicts in is_mql_eligible and is_mql_candidate.
select
    activity_id,
    lead_id,
    occurred_at,
    activity_type,
    episode,
    score_episode,
    episode_origin_at,
    rule_points,
    cap_points,
    counted_points,
    is_fast_track,
    decayed_sum_at_origin,
    engagement_raw,
    engagement_score,
    lead_score,
    -- when the build that wrote the row started (UTC): models reading by lead skip older rows
    {{ build_stamp() }} as built_at,
    is_mql_eligible,
    is_mql_eligible
        and {{ meets_mql_rule('fit_score', 'engagement_score', 'is_fast_track', 'mql_threshold',
                              'mql_min_fit', 'fit_weight', 'engagement_weight') }} as is_mql_candidate
from eligible
