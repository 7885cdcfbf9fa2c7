-- One row per account per day: the product-side inputs of the health components, rolled over the
-- windows the scores use. Rolling windows are row windows because int_accounts_daily is a dense
-- daily spine per account (docs/ARCHITECTURE.md).
-- A table, not a view: int_health_components_scored and the account-day tests read it; as a view
-- every reader re-ran the 30-day range join and windows over all account-days (issue 9).
{{ config(materialized='table') }}

with

accounts_daily as (

    select
        account_id,
        date_day,
        events,
        track_events,
        feature_gate_hits,
        quota_threshold_events,
        top_user_event_share,
        active_users_30d,
        licensed_seats,
        active_user_ratio_30d
    from {{ ref('int_accounts_daily') }}

),

feature_usage as (

    select
        account_id,
        date_day,
        feature_name,
        events
    from {{ ref('int_feature_usage_aggregated_to_account_days') }}

),

key_features as (

    select
        feature_name,
        cast(weight as {{ dbt.type_numeric() }}) as feature_weight
    from {{ ref('key_features') }}

),

key_feature_total_weight as (

    select sum(feature_weight) as total_weight from key_features

),

-- each key feature's events in the 30 days ending on date_day (day 30 in, day 31 out)
key_feature_events_30d as (

    select
        accounts_daily.account_id,
        accounts_daily.date_day,
        feature_usage.feature_name,
        max(key_features.feature_weight) as feature_weight,
        sum(feature_usage.events) as feature_events_30d
    from accounts_daily
    inner join feature_usage
        on
            accounts_daily.account_id = feature_usage.account_id
            and accounts_daily.date_day >= feature_usage.date_day
            and feature_usage.date_day > {{ dbt.dateadd('day', -30, 'accounts_daily.date_day') }}
    inner join key_features
        on feature_usage.feature_name = key_features.feature_name
    group by
        accounts_daily.account_id,
        accounts_daily.date_day,
        feature_usage.feature_name

),

key_features_aggregated as (

    select
        account_id,
        date_day,
        sum(case when feature_events_30d > 0 then feature_weight else 0 end) as adopted_feature_weight,
        sum(feature_events_30d) as key_feature_events_30d
    from key_feature_events_30d
    group by
        account_id,
        date_day

),

-- the latest day on which the whole product source delivered anything: a stale source is a data gap
source_days as (

    select
        date_day,
        sum(events) as source_events
    from accounts_daily
    group by date_day

),

source_freshness as (

    select
        date_day,
        max(case when source_events > 0 then date_day end) over (
            order by date_day rows between unbounded preceding and current row
        ) as source_last_event_date
    from source_days

),

rolled as (

    select
        account_id,
        date_day,
        licensed_seats,
        active_users_30d,
        coalesce(active_user_ratio_30d, 0) as active_user_ratio_30d,
        max(case when events > 0 then date_day end) over (
            partition by account_id order by date_day rows between unbounded preceding and current row
        ) as last_active_date,
        sum(coalesce(feature_gate_hits, 0)) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as feature_gate_hits_30d,
        sum(coalesce(quota_threshold_events, 0)) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as quota_threshold_events_30d,
        -- average over the active days only: a quiet day has no top user
        avg(case when events > 0 then top_user_event_share end) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as top_user_event_share_30d
    from accounts_daily

),

final as (

    select
        {{ dbt.concat(["rolled.account_id", "'|'", dbt.cast("rolled.date_day", dbt.type_string())]) }} as account_day_id,
        rolled.account_id,
        rolled.date_day,
        rolled.licensed_seats,
        coalesce(rolled.active_users_30d, 0) as active_users_30d,
        rolled.active_user_ratio_30d,
        rolled.last_active_date,
        source_freshness.source_last_event_date,
        coalesce(key_features_aggregated.key_feature_events_30d, 0) as key_feature_events_30d,
        cast(coalesce(key_features_aggregated.adopted_feature_weight, 0) as {{ type_double() }})
        / cast(key_feature_total_weight.total_weight as {{ type_double() }}) as adopted_feature_weight_ratio,
        rolled.feature_gate_hits_30d,
        rolled.quota_threshold_events_30d,
        rolled.top_user_event_share_30d
    from rolled
    inner join source_freshness
        on rolled.date_day = source_freshness.date_day
    cross join key_feature_total_weight
    left join key_features_aggregated
        on
            rolled.account_id = key_features_aggregated.account_id
            and rolled.date_day = key_features_aggregated.date_day

)

select * from final
