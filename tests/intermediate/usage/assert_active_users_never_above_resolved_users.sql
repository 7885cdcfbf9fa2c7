-- Claim: an account never has more active users (daily, 7-day or 30-day) than distinct users ever
-- resolved to it, and the windows nest: daily <= 7-day <= 30-day. Returns the offending days.

with

resolved_users as (
    select
        account_id,
        count(distinct user_id) as resolved_users
    from {{ ref('int_events_resolved_to_accounts') }}
    where user_id is not null
    group by account_id
),

usage_days as (
    select
        account_id,
        date_day,
        active_users,
        active_users_7d,
        active_users_30d
    from {{ ref('int_usage_aggregated_to_account_days') }}
)

select
    usage_days.*,
    coalesce(resolved_users.resolved_users, 0) as resolved_users
from usage_days
left join resolved_users
    on usage_days.account_id = resolved_users.account_id
where
    usage_days.active_users_30d > coalesce(resolved_users.resolved_users, 0)
    or usage_days.active_users > usage_days.active_users_7d
    or usage_days.active_users_7d > usage_days.active_users_30d
    or usage_days.active_users < 0
