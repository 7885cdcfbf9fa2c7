-- Claim: shares are on 0-1 and ratios are never negative (active_user_ratio_* may exceed 1 when
-- more users are active than seats are licensed, by design). Returns the offending days.

select
    account_id,
    date_day,
    top_user_event_share,
    active_user_ratio_7d,
    active_user_ratio_30d
from {{ ref('int_accounts_daily') }}
where
    top_user_event_share < 0
    or top_user_event_share > 1
    or active_user_ratio_7d < 0
    or active_user_ratio_30d < 0
