-- Product usage per account per day, quiet days included, with 7- and 30-day rolling windows.
-- Incremental: each run recomputes the days from (last built day - usage_lookback_days) on, or from
-- the first day whose attribution changed when earlier, so late events and late attribution are
-- counted and the result equals a full refresh (tests/python/test_usage_incremental.py).
-- In-model config because the strategy is engine-specific: it comes from the one dispatched macro
-- macros/cross_db/day_grain_incremental.sql.
{{
    config(
        materialized='incremental',
        incremental_strategy=day_grain_incremental_strategy(),
        partition_by=day_grain_partition_by(),
        unique_key='account_day_id',
        on_schema_change='append_new_columns',
    )
}}

{#- The first day to recompute, found by one query before the model runs (incremental_start_date) and
    written into the SQL below as a literal date: only a literal reaches through the user-day and
    feature-day views' group-bys to their events, so that they aggregate the recomputed stretch only
    (a date read from a CTE left them aggregating every event: most of the model's time, issue 9).
    It is usage_lookback_days before the last built day, or the first day whose attribution changed
    when earlier (a late event, a late identify call that stitches old anonymous events, a late
    e-mail or membership that re-attributes them), however far behind the lookback. Such a day has
    an event the identity match wrote since this table's latest write (the match rewrites, with a
    new `_built_at`, every event whose account, user or date may have changed and never drops one
    without rebuilding everything). Most rewrites change nothing (a re-stitched anonymous id whose
    events keep their user), so only the dates of such events are compared: each account-day's
    events, identified events and users there, now and as built. A table built before it had
    `_built_at`, or a match rebuilt since, compares every date once. #}
{%- set reprocess_window_sql %}
with

last_write as (
    select coalesce(max(built._built_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) as built_at
    from {{ this }} as built
),

rewritten_dates as (
    select matched.event_date
    from {{ ref('int_events_matched_to_account_rules') }} as matched
    where matched._built_at > (select last_write.built_at from last_write)
    union
    -- a match rebuilt since (every event rewritten) may have lost a whole day's events: every
    -- built day is compared then
    select built.date_day as event_date
    from {{ this }} as built
    where
        built.events > 0
        and (select min(matched._built_at) from {{ ref('int_events_matched_to_account_rules') }} as matched)
        > (select last_write.built_at from last_write)
),

current_fingerprints as (
    select
        resolved.account_id,
        resolved.event_date as date_day,
        count(*) as events,
        count(resolved.user_id) as identified_events,
        count(distinct resolved.user_id) as users
    from {{ ref('int_events_resolved_to_accounts') }} as resolved
    inner join rewritten_dates
        on resolved.event_date = rewritten_dates.event_date
    group by
        resolved.account_id,
        resolved.event_date
),

built_fingerprints as (
    select
        built.account_id,
        built.date_day,
        built.events,
        built.identified_events,
        built.users
    from {{ this }} as built
    inner join rewritten_dates
        on built.date_day = rewritten_dates.event_date
    where built.events > 0
),

changed_days as (
    select min(coalesce(current_fingerprints.date_day, built_fingerprints.date_day)) as first_changed_date
    from current_fingerprints
    full outer join built_fingerprints
        on
            current_fingerprints.account_id = built_fingerprints.account_id
            and current_fingerprints.date_day = built_fingerprints.date_day
    where
        coalesce(current_fingerprints.events, 0) <> coalesce(built_fingerprints.events, 0)
        or coalesce(current_fingerprints.identified_events, 0) <> coalesce(built_fingerprints.identified_events, 0)
        or coalesce(current_fingerprints.users, 0) <> coalesce(built_fingerprints.users, 0)
),

last_build as (
    select
        cast({{ dbt.dateadd('day', -1 * var('usage_lookback_days'), 'max(date_day)') }} as date)
            as lookback_from_date
    from {{ this }}
)

select
    case
        when last_build.lookback_from_date is null then cast('1900-01-01' as date)
        when changed_days.first_changed_date < last_build.lookback_from_date
            then changed_days.first_changed_date
        else last_build.lookback_from_date
    end as reprocess_from_date
from last_build
cross join changed_days
{%- endset %}
{%- set reprocess_from = incremental_start_date(reprocess_window_sql) if is_incremental() else '1900-01-01' %}
{#- the stretch's rolling windows read 30 warm-up days before it; its sessions one day before it.
    Literal dates on an incremental run, joined from reprocess_window in a full build
    (reprocess_from_bound in macros/incremental/incremental_start_date.sql). #}
{%- set warm_up_from = reprocess_from_bound(reprocess_from, is_incremental(), days_before=30) %}
{%- set events_from = reprocess_from_bound(reprocess_from, is_incremental(), days_before=1) %}
{%- set reprocessed_from = reprocess_from_bound(reprocess_from, is_incremental()) %}
{%- set window_join = reprocess_window_join(is_incremental()) %}

with

{% if is_incremental() %}
    -- The latest activity before the events read below (from the day before the stretch), carried forward.
    prior_activity as (
        select
            built_days.account_id,
            max(built_days.last_active_at) as last_active_at
        from {{ this }} as built_days
        where built_days.date_day < {{ events_from }}
        group by built_days.account_id
    ),
{% else %}
    reprocess_window as (
        select cast('1900-01-01' as date) as reprocess_from_date
    ),

    prior_activity as (
        select
            cast(null as {{ dbt.type_string() }}) as account_id,
            cast(null as {{ dbt.type_timestamp() }}) as last_active_at
        where 1 = 0
    ),
{% endif %}

-- Days of the recomputed stretch plus 30 warm-up days that rolling windows need.
spine as (
    select
        spine_days.account_day_id,
        spine_days.account_id,
        spine_days.date_day,
        spine_days.date_day >= {{ reprocessed_from }} as is_reprocessed
    from {{ ref('int_accounts_spined_to_days') }} as spine_days
    {{ window_join }}
    where spine_days.date_day >= {{ warm_up_from }}
),

-- One day before the stretch too: a session that starts at 23:50 owns the 00:10 event after it.
resolved_events as (
    select
        resolved.event_id,
        resolved.account_id,
        resolved.user_id,
        resolved.anonymous_id,
        resolved.event_at,
        resolved.event_date,
        resolved.message_type,
        resolved.event_name,
        resolved.feature_name
    from {{ ref('int_events_resolved_to_accounts') }} as resolved
    {{ window_join }}
    where resolved.event_date >= {{ events_from }}
),

user_days as (
    select
        user_days.account_id,
        user_days.user_id,
        user_days.date_day,
        user_days.events,
        user_days.track_events,
        user_days.last_event_at
    from {{ ref('int_usage_aggregated_to_account_user_days') }} as user_days
    {{ window_join }}
    where user_days.date_day >= {{ warm_up_from }}
),

feature_days as (
    select
        feature_days.account_id,
        feature_days.feature_name,
        feature_days.date_day
    from {{ ref('int_feature_usage_aggregated_to_account_days') }} as feature_days
    {{ window_join }}
    where feature_days.date_day >= {{ warm_up_from }}
),

-- A session is one actor's run of events in one account with no gap of session_gap_minutes or
-- more: a gap of exactly 30:00 starts a new session, 29:59 does not. The actor is the user, or
-- the anonymous id for events attributed without a user.
events_with_previous as (
    select
        account_id,
        event_date,
        event_at,
        lag(event_at) over (
            partition by account_id, coalesce(user_id, anonymous_id)
            order by event_at, event_id
        ) as previous_event_at
    from resolved_events
),

daily_sessions as (
    select
        account_id,
        event_date as date_day,
        count(*) as sessions
    from events_with_previous
    where
        previous_event_at is null
        -- Compared as timestamps, not as a datediff in whole seconds: engines count second
        -- boundaries differently when timestamps carry fractions of a second.
        or event_at >= {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_at') }}
    group by
        account_id,
        event_date
),

daily_events as (
    select
        account_id,
        event_date as date_day,
        count(*) as events,
        -- any event of the account, an anonymous visitor's too (CONTRACT: latest event of any user)
        max(event_at) as last_event_at,
        count(user_id) as identified_events,
        count(distinct user_id) as users,
        cast(sum(case when message_type = 'track' then 1 else 0 end) as {{ dbt.type_bigint() }}) as track_events,
        count(distinct case when message_type = 'track' then user_id end) as active_users,
        count(distinct feature_name) as key_features_used,
        -- Event vocabulary: docs/ARCHITECTURE.md "The demo company's event vocabulary".
        cast(
            sum(case when message_type = 'track' and event_name = 'feature_gate.hit' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as feature_gate_hits,
        cast(
            sum(case when message_type = 'track' and event_name = 'quota.threshold_reached' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as quota_threshold_events,
        cast(
            sum(case when message_type = 'track' and event_name = 'onboarding.milestone_completed' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as milestone_completions
    from resolved_events
    group by
        account_id,
        event_date
),

daily_users as (
    select
        account_id,
        date_day,
        max(events) as top_user_events
    from user_days
    group by
        account_id,
        date_day
),

-- Rolling distinct counts without a day x user cross join: a user active on day d counts on the
-- days [d, min(d + W, next active day)), so every user-day adds +1 once and -1 once, and a running
-- sum of these steps is the number of distinct active users in the W days ending on each day.
active_user_days as (
    select
        account_id,
        date_day,
        lead(date_day) over (partition by account_id, user_id order by date_day) as next_active_date
    from user_days
    where track_events > 0
),

active_feature_days as (
    select
        account_id,
        date_day,
        lead(date_day) over (partition by account_id, feature_name order by date_day) as next_active_date
    from feature_days
),

window_steps as (
    {% for source, measure in [('active_user_days', 'users'), ('active_feature_days', 'features')] %}
        {% for window_days in [7, 30] %}
            select
                account_id,
                date_day as step_day,
                '{{ measure }}_{{ window_days }}d' as measure,
                1 as step
            from {{ source }}
            union all
            select
                account_id,
                case
                    when
                        next_active_date is not null
                        and next_active_date < {{ dbt.dateadd('day', window_days, 'date_day') }}
                        then next_active_date
                    else cast({{ dbt.dateadd('day', window_days, 'date_day') }} as date)
                end as step_day,
                '{{ measure }}_{{ window_days }}d' as measure,
                -1 as step
            from {{ source }}
            {% if not loop.last %}union all{% endif %}
        {% endfor %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

daily_steps as (
    select
        account_id,
        cast(step_day as date) as date_day,
        sum(case when measure = 'users_7d' then step else 0 end) as users_7d_step,
        sum(case when measure = 'users_30d' then step else 0 end) as users_30d_step,
        sum(case when measure = 'features_7d' then step else 0 end) as features_7d_step,
        sum(case when measure = 'features_30d' then step else 0 end) as features_30d_step
    from window_steps
    group by
        account_id,
        cast(step_day as date)
),

rolled as (
    select
        spine.account_day_id,
        spine.account_id,
        spine.date_day,
        spine.is_reprocessed,
        cast(sum(coalesce(daily_steps.users_7d_step, 0)) over (
            partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as active_users_7d,
        cast(sum(coalesce(daily_steps.users_30d_step, 0)) over (
            partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as active_users_30d,
        cast(sum(coalesce(daily_steps.features_7d_step, 0)) over (
            partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as key_features_used_7d,
        cast(sum(coalesce(daily_steps.features_30d_step, 0)) over (
            partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as key_features_used_30d,
        -- Latest event of the account up to the day, identified or anonymous (recency counts both),
        -- seeded with what came before the events read.
        max(coalesce(daily_events.last_event_at, prior_activity.last_active_at)) over (
            partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
        ) as last_active_at
    from spine
    left join daily_steps
        on
            spine.account_id = daily_steps.account_id
            and spine.date_day = daily_steps.date_day
    left join daily_events
        on
            spine.account_id = daily_events.account_id
            and spine.date_day = daily_events.date_day
    left join prior_activity
        on spine.account_id = prior_activity.account_id
),

final as (
    select
        rolled.account_day_id,
        rolled.account_id,
        rolled.date_day,
        coalesce(daily_events.events, 0) as events,
        coalesce(daily_events.identified_events, 0) as identified_events,
        coalesce(daily_events.users, 0) as users,
        coalesce(daily_events.track_events, 0) as track_events,
        coalesce(daily_events.active_users, 0) as active_users,
        coalesce(daily_sessions.sessions, 0) as sessions,
        cast(daily_events.events as {{ type_double() }}) / nullif(daily_sessions.sessions, 0)
            as events_per_session,
        coalesce(daily_events.key_features_used, 0) as key_features_used,
        coalesce(daily_events.feature_gate_hits, 0) as feature_gate_hits,
        coalesce(daily_events.quota_threshold_events, 0) as quota_threshold_events,
        coalesce(daily_events.milestone_completions, 0) as milestone_completions,
        cast(daily_users.top_user_events as {{ type_double() }}) / nullif(daily_events.events, 0)
            as top_user_event_share,
        rolled.active_users_7d,
        rolled.active_users_30d,
        rolled.key_features_used_7d,
        rolled.key_features_used_30d,
        rolled.last_active_at,
        -- the run that wrote the row: data tests check the latest write's rows (macros/tests/rewritten_rows.sql)
        {{ built_at_column() }} as _built_at
    from rolled
    left join daily_events
        on
            rolled.account_id = daily_events.account_id
            and rolled.date_day = daily_events.date_day
    left join daily_sessions
        on
            rolled.account_id = daily_sessions.account_id
            and rolled.date_day = daily_sessions.date_day
    left join daily_users
        on
            rolled.account_id = daily_users.account_id
            and rolled.date_day = daily_users.date_day
    where rolled.is_reprocessed
)

select * from final
