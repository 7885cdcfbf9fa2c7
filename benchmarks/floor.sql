-- The benchmark floor (issue 9): the core aggregations of the dbt build written by hand as one DuckDB
-- script over the same landed raw tables, so `full build / floor` says what the dbt project costs
-- over the engine doing the same work directly. DuckDB-only on purpose: it is a measuring stick, not
-- part of the warehouse (nothing reads schema bench_floor).
--
-- What it does, in the order the dbt project does it:
--   1. type the landed text events (UTC timestamps, key features, validity);
--   2. identity: anonymous events inherit the userId of an identify with the same anonymousId, then
--      rule 1 (context.groupId of a known account), rule 2 (membership valid on the day), rule 3
--      (latest group call at or before the event); rule 4 (e-mail domain) is left out;
--   3. sessionise (a gap of session_gap_minutes = 30 starts a session, per account and actor);
--   4. account-day usage on a dense spine from the account's creation to the latest event day;
--   5. rolling 7/30-day distinct active users and key features (step sums, no cross join);
--   6. the four usage components (recency, adoption, depth, breadth) and the usage composite with
--      the v1 weights of seeds/scoring_config.csv.
-- Seats for breadth are the account's current memberships (the floor does not parse Stripe).

set timezone = 'UTC';

create schema if not exists bench_floor;

-- the key features and their weights from the seed (the runner runs this script from the repo root)
create or replace table bench_floor.key_features as
select feature_name, event_name, cast(weight as decimal(9, 4)) as weight
from read_csv('seeds/key_features.csv', header = true, all_varchar = true);

-- 1. typed events: valid rows only (parseable timestamp, known type, some identity)
create or replace table bench_floor.events as
select
    message_id as event_id,
    type as message_type,
    event as event_name,
    user_id,
    anonymous_id,
    context_group_id,
    group_id,
    cast(try_cast("timestamp" as timestamptz) as timestamp) as event_at
from raw_product.events
where
    try_cast("timestamp" as timestamptz) is not null
    and type in ('track', 'identify', 'group', 'page')
    and (user_id is not null or anonymous_id is not null);

create or replace table bench_floor.accounts as
select
    account_id,
    segment,
    cast(cast(created_at as timestamptz) as timestamp) as created_at
from raw_crm.accounts;

create or replace table bench_floor.memberships as
select
    user_id,
    account_id,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to
from raw_product.account_memberships;

-- 2. identity resolution
create or replace table bench_floor.resolved as
with stitched as (
    select
        events.*,
        coalesce(events.user_id, anon.user_id) as actor_user_id
    from bench_floor.events as events
    left join (
        select anonymous_id, min(user_id) as user_id
        from bench_floor.events
        where message_type = 'identify' and anonymous_id is not null and user_id is not null
        group by anonymous_id
    ) as anon
        -- on the anonymousId alone (coalesce keeps a known userId): `events.user_id is null` in the
        -- condition made this a blockwise nested-loop join (events x identified anonymousIds)
        on events.anonymous_id = anon.anonymous_id
),

group_calls as (
    select user_id, event_at, group_id
    from bench_floor.events
    where message_type = 'group' and group_id in (select account_id from bench_floor.accounts)
),

by_rules as (
    select
        stitched.*,
        ctx.account_id as rule1_account_id,
        member.account_id as rule2_account_id,
        grp.group_id as rule3_account_id
    from stitched
    left join bench_floor.accounts as ctx
        on stitched.context_group_id = ctx.account_id
    -- open-ended memberships end on a sentinel day rather than `valid_to is null or ...`: an `or` in a
    -- left join's condition makes DuckDB fall back to a nested-loop join (events x memberships)
    left join bench_floor.memberships as member
        on
            stitched.actor_user_id = member.user_id
            and cast(stitched.event_at as date) >= member.valid_from
            and cast(stitched.event_at as date) < coalesce(member.valid_to, date '9999-12-31')
    asof left join group_calls as grp
        on stitched.actor_user_id = grp.user_id and stitched.event_at >= grp.event_at
)

select
    by_rules.event_id,
    coalesce(by_rules.rule1_account_id, by_rules.rule2_account_id, by_rules.rule3_account_id) as account_id,
    by_rules.actor_user_id as user_id,
    by_rules.anonymous_id,
    by_rules.event_at,
    cast(by_rules.event_at as date) as event_date,
    by_rules.message_type,
    by_rules.event_name,
    case when by_rules.message_type = 'track' then key_features.feature_name end as feature_name,
    case when by_rules.message_type = 'track' then key_features.weight end as feature_weight
from by_rules
left join bench_floor.key_features as key_features
    on by_rules.event_name = key_features.event_name
where coalesce(rule1_account_id, rule2_account_id, rule3_account_id) is not null
-- an event matching two memberships on one day keeps one (the lowest account id)
qualify row_number() over (partition by by_rules.event_id order by by_rules.rule2_account_id) = 1;

-- 3 + 4. sessions and account-day usage on a dense spine
create or replace table bench_floor.account_days as
with as_of as (
    select max(event_date) as as_of_date from bench_floor.resolved
),

spine as (
    select
        accounts.account_id,
        cast(day_series.date_day as date) as date_day
    from bench_floor.accounts as accounts
    cross join as_of
    cross join lateral (
        select unnest(generate_series(cast(accounts.created_at as date), as_of.as_of_date, interval 1 day))
            as date_day
    ) as day_series
),

sessions as (
    select
        account_id,
        event_date as date_day,
        count(*) as sessions
    from (
        select
            account_id,
            event_date,
            event_at,
            lag(event_at) over (
                partition by account_id, coalesce(user_id, anonymous_id) order by event_at, event_id
            ) as previous_event_at
        from bench_floor.resolved
    )
    where previous_event_at is null or epoch(event_at) - epoch(previous_event_at) >= 1800
    group by all
),

daily as (
    select
        account_id,
        event_date as date_day,
        count(*) as events,
        count(*) filter (where message_type = 'track') as track_events,
        count(distinct user_id) filter (where message_type = 'track') as active_users,
        count(distinct feature_name) as key_features_used,
        count(*) filter (where event_name = 'feature_gate.hit') as feature_gate_hits,
        max(event_at) filter (where user_id is not null) as last_user_event_at
    from bench_floor.resolved
    group by all
),

user_days as (
    select distinct account_id, user_id, event_date as date_day
    from bench_floor.resolved
    where message_type = 'track' and user_id is not null
),

feature_days as (
    select distinct account_id, feature_name, event_date as date_day
    from bench_floor.resolved
    where feature_name is not null
),

-- 5. a user (feature) active on day d counts on [d, min(d + W, next active day)): +1 then -1
steps as (
    select
        active.account_id,
        edges.step_day as date_day,
        windows.w,
        active.kind,
        edges.step
    from (
        select
            account_id,
            date_day,
            lead(date_day) over (partition by account_id, user_id order by date_day) as next_date,
            'users' as kind
        from user_days
        union all
        select
            account_id,
            date_day,
            lead(date_day) over (partition by account_id, feature_name order by date_day) as next_date,
            'features' as kind
        from feature_days
    ) as active
    cross join (values (7), (30)) as windows (w)
    cross join lateral (
        select active.date_day as step_day, 1 as step
        union all
        select least(coalesce(active.next_date, active.date_day + windows.w), active.date_day + windows.w), -1
    ) as edges (step_day, step)
),

daily_steps as (
    select
        account_id,
        date_day,
        sum(step) filter (where kind = 'users' and w = 7) as users_7d,
        sum(step) filter (where kind = 'users' and w = 30) as users_30d,
        sum(step) filter (where kind = 'features' and w = 7) as features_7d,
        sum(step) filter (where kind = 'features' and w = 30) as features_30d
    from steps
    group by all
)

select
    spine.account_id,
    spine.date_day,
    coalesce(daily.events, 0) as events,
    coalesce(daily.track_events, 0) as track_events,
    coalesce(daily.active_users, 0) as active_users,
    coalesce(sessions.sessions, 0) as sessions,
    coalesce(daily.key_features_used, 0) as key_features_used,
    coalesce(daily.feature_gate_hits, 0) as feature_gate_hits,
    sum(coalesce(daily_steps.users_7d, 0)) over account_history as active_users_7d,
    sum(coalesce(daily_steps.users_30d, 0)) over account_history as active_users_30d,
    sum(coalesce(daily_steps.features_7d, 0)) over account_history as key_features_used_7d,
    sum(coalesce(daily_steps.features_30d, 0)) over account_history as key_features_used_30d,
    max(daily.last_user_event_at) over account_history as last_active_at
from spine
left join daily using (account_id, date_day)
left join sessions using (account_id, date_day)
left join daily_steps using (account_id, date_day)
window account_history as (
    partition by spine.account_id order by spine.date_day rows between unbounded preceding and current row
);

-- 6. usage components and composite
create or replace table bench_floor.usage_scored as
-- 6a. per key feature and account: its events in the 30 days ending on each day (day 30 in, day 31
-- out) and whether it was used in them, as step sums (no range join of account-days x feature-days):
-- a feature's events on day d add on d and leave on d + 30; its weight counts on
-- [d, min(d + 30, its next day of use)). Steps before the account's first spine day land on that day.
with feature_days as (
    select
        account_id,
        feature_name,
        event_date as date_day,
        max(feature_weight) as weight,
        count(*) as feature_events,
        lead(event_date) over (partition by account_id, feature_name order by event_date) as next_date
    from bench_floor.resolved
    where feature_name is not null
    group by account_id, feature_name, event_date
),

feature_steps as (
    select
        feature_days.account_id,
        greatest(edges.step_day, cast(accounts.created_at as date)) as date_day,
        sum(edges.weight_step) as weight_step,
        sum(edges.events_step) as events_step
    from feature_days
    inner join bench_floor.accounts as accounts using (account_id)
    cross join lateral (
        select feature_days.date_day as step_day, feature_days.weight as weight_step,
            feature_days.feature_events as events_step
        union all
        select least(coalesce(feature_days.next_date, feature_days.date_day + 30), feature_days.date_day + 30),
            -feature_days.weight, 0
        union all
        select feature_days.date_day + 30, 0, -feature_days.feature_events
    ) as edges (step_day, weight_step, events_step)
    group by all
),

-- the weighted share of key features used in the window (each feature once) and their events
feature_adoption as (
    select
        account_days.account_id,
        account_days.date_day,
        sum(coalesce(feature_steps.weight_step, 0)) over account_history
        / (select sum(weight) from bench_floor.key_features) as adopted_weight_ratio,
        sum(coalesce(feature_steps.events_step, 0)) over account_history as key_feature_events_30d
    from bench_floor.account_days as account_days
    left join feature_steps using (account_id, date_day)
    window account_history as (
        partition by account_days.account_id order by account_days.date_day
        rows between unbounded preceding and current row
    )
),

seats as (
    select account_id, count(*) as seats
    from bench_floor.memberships
    where valid_to is null
    group by all
),

inputs as (
    select
        account_days.*,
        accounts.segment,
        coalesce(feature_adoption.key_feature_events_30d, 0) as key_feature_events_30d,
        coalesce(feature_adoption.adopted_weight_ratio, 0) as adopted_weight_ratio,
        coalesce(seats.seats, 0) as seats,
        date_diff('day', cast(account_days.last_active_at as date), account_days.date_day) as days_since_active
    from bench_floor.account_days as account_days
    inner join bench_floor.accounts as accounts using (account_id)
    left join feature_adoption using (account_id, date_day)
    left join seats using (account_id)
),

components as (
    select
        *,
        round(case when last_active_at is null then 0 else 100 * power(0.5, days_since_active / 7) end, 1)
            as recency_score,
        round(100 * adopted_weight_ratio, 1) as adoption_score,
        round(
            case
                when active_users_30d > 0 and key_feature_events_30d > 0
                    then 100 * cume_dist() over (
                        partition by segment, date_day
                        order by key_feature_events_30d / greatest(active_users_30d, 1)
                    )
                else 0
            end,
            1
        ) as depth_score,
        round(100 * least(coalesce(active_users_30d / nullif(seats, 0), 0) / 0.8, 1), 1) as breadth_score
    from inputs
)

select
    account_id,
    date_day,
    recency_score,
    adoption_score,
    depth_score,
    breadth_score,
    round(0.25 * recency_score + 0.30 * adoption_score + 0.20 * depth_score + 0.25 * breadth_score, 1)
        as usage_score
from components;
