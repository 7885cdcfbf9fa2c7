-- Claim: every resolved event is counted exactly once in account-day usage: per account, the sum
-- of daily events equals the resolved events up to as_of_date. Returns accounts that differ.

with

as_of as (
    select distinct as_of_date
    from {{ ref('int_accounts_spined_to_days') }}
),

resolved as (
    select
        resolved_events.account_id,
        count(*) as resolved_events
    from {{ ref('int_events_resolved_to_accounts') }} as resolved_events
    inner join as_of
        on resolved_events.event_date <= as_of.as_of_date
    group by resolved_events.account_id
),

usage_totals as (
    select
        account_id,
        sum(events) as usage_events
    from {{ ref('int_usage_aggregated_to_account_days') }}
    group by account_id
)

select
    coalesce(resolved.account_id, usage_totals.account_id) as account_id,
    resolved.resolved_events,
    usage_totals.usage_events
from resolved
full outer join usage_totals
    on resolved.account_id = usage_totals.account_id
where coalesce(resolved.resolved_events, 0) <> coalesce(usage_totals.usage_events, 0)
