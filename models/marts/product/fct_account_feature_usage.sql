-- One row per published account per key feature on the as-of date (latest health day): how much
-- the account used the feature in the window ending that day, so the account page can show WHICH
-- key features are used. Window as in mart_feature_adoption: var('feature_adoption_window_days')
-- days ending on the as-of date, that day included.

{%- set window_days = var('feature_adoption_window_days') %}

with

key_features as (
    select
        feature_name,
        weight
    from {{ ref('key_features') }}
),

accounts as (
    select account_id
    from {{ ref('dim_accounts') }}
),

health_daily as (
    select date_day
    from {{ ref('fct_account_health_daily') }}
),

feature_usage as (
    select
        account_id,
        date_day,
        feature_name,
        events
    from {{ ref('int_feature_usage_aggregated_to_account_days') }}
),

feature_events as (
    select
        account_id,
        user_id,
        event_date,
        feature_name
    from {{ ref('int_events_resolved_to_accounts') }}
    where feature_name is not null
),

as_of as (
    select max(date_day) as as_of_date
    from health_daily
),

-- Events and distinct users in the window, both from the resolved events (distinct users over the
-- window cannot be summed from daily counts).
use_in_window as (
    select
        feature_events.account_id,
        feature_events.feature_name,
        count(*) as events_in_window,
        count(distinct feature_events.user_id) as users_in_window
    from feature_events
    cross join as_of
    where
        feature_events.event_date <= as_of.as_of_date
        and feature_events.event_date > cast({{ dbt.dateadd('day', -window_days, 'as_of.as_of_date') }} as date)
    group by
        feature_events.account_id,
        feature_events.feature_name
),

-- Last use on or before the as-of date, however long ago.
last_use as (
    select
        feature_usage.account_id,
        feature_usage.feature_name,
        max(feature_usage.date_day) as last_used_on
    from feature_usage
    cross join as_of
    where feature_usage.date_day <= as_of.as_of_date
    group by
        feature_usage.account_id,
        feature_usage.feature_name
),

final as (
    select
        {{ dbt.concat(['accounts.account_id', "'_'", 'key_features.feature_name']) }} as account_feature_usage_id,
        accounts.account_id,
        key_features.feature_name as feature,
        as_of.as_of_date,
        coalesce(use_in_window.events_in_window, 0) as events_30d,
        coalesce(use_in_window.users_in_window, 0) as active_users_30d,
        coalesce(use_in_window.events_in_window, 0) > 0 as is_adopted_30d,
        last_use.last_used_on,
        key_features.weight as feature_weight
    from accounts
    cross join key_features
    cross join as_of
    left join use_in_window
        on
            accounts.account_id = use_in_window.account_id
            and key_features.feature_name = use_in_window.feature_name
    left join last_use
        on
            accounts.account_id = last_use.account_id
            and key_features.feature_name = last_use.feature_name
)

select * from final
