-- Claim: every event's renewal groups split the accounts with a decided renewal (used + not used =
-- all, renewed within each group), its rates lie in 0-1, and a quadrant's users of an event are
-- never more than its accounts.
select
    'mart_event_taxonomy' as mart,
    event_name as row_id
from {{ ref('mart_event_taxonomy') }}
where
    used_accounts + not_used_accounts != outcome_accounts
    or used_renewed_accounts > used_accounts
    or not_used_renewed_accounts > not_used_accounts
    or renewal_rate_used < 0
    or renewal_rate_used > 1
    or renewal_rate_not_used < 0
    or renewal_rate_not_used > 1
    or unresolved_events > events

union all

select
    'mart_event_usage_by_quadrant' as mart,
    event_quadrant_id as row_id
from {{ ref('mart_event_usage_by_quadrant') }}
where
    using_accounts > accounts
    or other_using_accounts > other_accounts
    or usage_rate < 0
    or usage_rate > 1
