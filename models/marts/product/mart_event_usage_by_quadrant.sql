-- One row per track event name per quadrant on the as-of date: how many of the quadrant's accounts
-- used the event in the adoption window, against the accounts of the other quadrants. Seed 001's
-- product review: what Champions use that others don't, what Frustrated Power Users use most.
-- Definitions: docs block `product__event_usage_by_quadrant`.

{%- set window_days = var('feature_adoption_window_days') %}

with

health_daily as (
    select
        account_id,
        date_day,
        quadrant
    from {{ ref('fct_account_health_daily') }}
),

events as (
    select
        account_id,
        event_date,
        event_name
    from {{ ref('int_events_resolved_to_accounts') }}
    where
        message_type = 'track'
        and event_name is not null
),

as_of as (
    select max(date_day) as as_of_date
    from health_daily
),

-- Accounts with an assigned quadrant on the as-of date; an unknown quadrant is in no cohort.
quadrant_members as (
    select
        health_daily.account_id,
        health_daily.quadrant
    from health_daily
    inner join as_of
        on health_daily.date_day = as_of.as_of_date
    where health_daily.quadrant is not null
),

quadrant_sizes as (
    select
        quadrant,
        count(*) as accounts -- noqa: RF04
    from quadrant_members
    group by quadrant
),

all_members as (
    select count(*) as accounts -- noqa: RF04
    from quadrant_members
),

-- Events in the window: the window_days days ending on the as-of date, that day included.
account_event_use as (
    select
        events.account_id,
        events.event_name,
        count(*) as events
    from events
    cross join as_of
    where
        events.event_date <= as_of.as_of_date
        and events.event_date > cast({{ dbt.dateadd('day', -window_days, 'as_of.as_of_date') }} as date)
    group by
        events.account_id,
        events.event_name
),

quadrant_use as (
    select
        quadrant_members.quadrant,
        account_event_use.event_name,
        count(*) as using_accounts,
        cast(sum(account_event_use.events) as {{ dbt.type_bigint() }}) as events
    from quadrant_members
    inner join account_event_use
        on quadrant_members.account_id = account_event_use.account_id
    group by
        quadrant_members.quadrant,
        account_event_use.event_name
),

event_use as (
    select
        event_name,
        cast(sum(using_accounts) as {{ dbt.type_bigint() }}) as using_accounts
    from quadrant_use
    group by event_name
),

-- Every event used by any cohort account, against every quadrant (zero users included).
event_quadrants as (
    select
        event_use.event_name,
        event_use.using_accounts as all_using_accounts,
        quadrant_sizes.quadrant,
        quadrant_sizes.accounts
    from event_use
    cross join quadrant_sizes
),

counted as (
    select
        event_quadrants.event_name,
        event_quadrants.quadrant,
        event_quadrants.accounts,
        coalesce(quadrant_use.using_accounts, 0) as using_accounts,
        coalesce(quadrant_use.events, 0) as events,
        all_members.accounts - event_quadrants.accounts as other_accounts,
        event_quadrants.all_using_accounts - coalesce(quadrant_use.using_accounts, 0) as other_using_accounts
    from event_quadrants
    cross join all_members
    left join quadrant_use
        on
            event_quadrants.event_name = quadrant_use.event_name
            and event_quadrants.quadrant = quadrant_use.quadrant
),

rated as (
    select
        {{ dbt.concat(['counted.event_name', "'_'", 'counted.quadrant']) }} as event_quadrant_id,
        as_of.as_of_date,
        counted.event_name,
        counted.quadrant,
        counted.accounts,
        counted.using_accounts,
        counted.events,
        {{ ratio('counted.using_accounts', 'counted.accounts') }} as usage_rate,
        counted.other_accounts,
        counted.other_using_accounts,
        {{ ratio('counted.other_using_accounts', 'counted.other_accounts') }} as other_usage_rate
    from counted
    cross join as_of
),

final as (
    select
        *,
        -- null when no account is in the other quadrants
        usage_rate - other_usage_rate as usage_rate_gap,
        -- 1 = the event most accounts of the quadrant used (ties: more events, then the name)
        row_number() over (
            partition by quadrant
            order by using_accounts desc, events desc, event_name asc
        ) as usage_rank
    from rated
)

select * from final
