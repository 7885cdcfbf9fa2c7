-- Usage and billing of every account on every day, with active users as a share of licensed seats
-- (CONTRACT section 3: active_user_ratio_30d = active_users_30d / licensed_seats).
-- A table, not a view: every health and product mart and the account-day tests read it; as a view each
-- reader re-joined usage and billing over every account-day.
{{ config(materialized='table') }}

with

spine as (
    select
        account_day_id,
        account_id,
        date_day
    from {{ ref('int_accounts_spined_to_days') }}
),

usage_days as (
    select
        account_day_id,
        events,
        track_events,
        active_users,
        sessions,
        events_per_session,
        key_features_used,
        feature_gate_hits,
        quota_threshold_events,
        milestone_completions,
        top_user_event_share,
        active_users_7d,
        active_users_30d,
        key_features_used_7d,
        key_features_used_30d,
        last_active_at
    from {{ ref('int_usage_aggregated_to_account_days') }}
),

billing_days as (
    select
        account_day_id,
        licensed_seats,
        arr,
        mrr,
        renewal_date,
        subscription_status
    from {{ ref('int_billing_aggregated_to_account_days') }}
),

final as (
    select
        spine.account_day_id,
        spine.account_id,
        spine.date_day,
        coalesce(usage_days.events, 0) as events,
        coalesce(usage_days.track_events, 0) as track_events,
        coalesce(usage_days.active_users, 0) as active_users,
        coalesce(usage_days.sessions, 0) as sessions,
        usage_days.events_per_session,
        coalesce(usage_days.key_features_used, 0) as key_features_used,
        coalesce(usage_days.feature_gate_hits, 0) as feature_gate_hits,
        coalesce(usage_days.quota_threshold_events, 0) as quota_threshold_events,
        coalesce(usage_days.milestone_completions, 0) as milestone_completions,
        usage_days.top_user_event_share,
        coalesce(usage_days.active_users_7d, 0) as active_users_7d,
        coalesce(usage_days.active_users_30d, 0) as active_users_30d,
        coalesce(usage_days.key_features_used_7d, 0) as key_features_used_7d,
        coalesce(usage_days.key_features_used_30d, 0) as key_features_used_30d,
        usage_days.last_active_at,
        coalesce(billing_days.licensed_seats, 0) as licensed_seats,
        coalesce(billing_days.arr, 0) as arr,
        coalesce(billing_days.mrr, 0) as mrr,
        billing_days.renewal_date,
        coalesce(billing_days.subscription_status, 'none') as subscription_status,
        -- Null when the account has no seats (no division by zero); may exceed 1 when more users
        -- are active than seats are licensed, an expansion signal kept visible on purpose.
        cast(usage_days.active_users_7d as {{ type_double() }}) / nullif(billing_days.licensed_seats, 0)
            as active_user_ratio_7d,
        cast(usage_days.active_users_30d as {{ type_double() }}) / nullif(billing_days.licensed_seats, 0)
            as active_user_ratio_30d
    from spine
    left join usage_days
        on spine.account_day_id = usage_days.account_day_id
    left join billing_days
        on spine.account_day_id = billing_days.account_day_id
)

select * from final
