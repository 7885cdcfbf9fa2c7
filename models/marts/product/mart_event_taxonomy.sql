-- One row per track event name in the company's own events: how often and by whom it is sent, and
-- how the accounts that used it before their renewal renewed against those that did not.
-- `account-health features` prints it and proposes key features from it.
-- Definitions: docs block `product__event_taxonomy`.

{%- set window_days = var('feature_renewal_window_days') %}

with

-- Every staged event, resolved or not: the taxonomy is what the product sends.
events as (
    select
        account_id,
        user_id,
        event_at,
        event_date,
        event_name
    from {{ ref('int_events_matched_to_account_rules') }}
    where
        message_type = 'track'
        and event_name is not null
),

key_features as (
    select
        feature_name,
        event_name,
        weight
    from {{ ref('key_features') }}
),

account_outcomes as (
    select
        account_id,
        renewal_date,
        outcome
    from {{ ref('int_renewal_outcomes_resolved_to_accounts') }}
),

event_counts as (
    select
        event_name,
        count(*) as events,
        cast(sum(case when account_id is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as unresolved_events,
        count(distinct account_id) as accounts, -- noqa: RF04
        count(distinct user_id) as users,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at
    from events
    group by event_name
),

-- Aggregate to account x day x event first: the window join then reads far fewer rows.
account_event_days as (
    select
        account_id,
        event_date,
        event_name
    from events
    where account_id is not null
    group by
        account_id,
        event_date,
        event_name
),

-- Used before renewal: on one of the window_days days before the renewal date, that day excluded.
users_before_renewal as (
    select
        account_event_days.event_name,
        account_outcomes.account_id,
        account_outcomes.outcome
    from account_outcomes
    inner join account_event_days
        on
            account_outcomes.account_id = account_event_days.account_id
            and account_outcomes.renewal_date > account_event_days.event_date
            and cast({{ dbt.dateadd('day', -window_days, 'account_outcomes.renewal_date') }} as date)
            <= account_event_days.event_date
    group by
        account_event_days.event_name,
        account_outcomes.account_id,
        account_outcomes.outcome
),

used_outcomes as (
    select
        event_name,
        count(*) as used_accounts,
        cast(sum(case when outcome = 'renewed' then 1 else 0 end) as {{ dbt.type_bigint() }}) as used_renewed_accounts
    from users_before_renewal
    group by event_name
),

all_outcomes as (
    select
        count(*) as outcome_accounts,
        cast(sum(case when outcome = 'renewed' then 1 else 0 end) as {{ dbt.type_bigint() }}) as renewed_accounts
    from account_outcomes
),

outcome_split as (
    select
        event_counts.event_name,
        all_outcomes.outcome_accounts,
        coalesce(used_outcomes.used_accounts, 0) as used_accounts,
        coalesce(used_outcomes.used_renewed_accounts, 0) as used_renewed_accounts,
        all_outcomes.outcome_accounts - coalesce(used_outcomes.used_accounts, 0) as not_used_accounts,
        coalesce(all_outcomes.renewed_accounts, 0) - coalesce(used_outcomes.used_renewed_accounts, 0)
            as not_used_renewed_accounts
    from event_counts
    cross join all_outcomes
    left join used_outcomes
        on event_counts.event_name = used_outcomes.event_name
),

rated as (
    select
        event_counts.event_name,
        case
            when key_features.event_name is not null then 'key_feature'
            -- the names other signals read (docs/ARCHITECTURE.md, the event vocabulary): not features
            when event_counts.event_name = 'onboarding.milestone_completed' then 'milestone'
            when event_counts.event_name = 'feature_gate.hit' then 'feature_gate'
            when event_counts.event_name = 'quota.threshold_reached' then 'quota_threshold'
            else 'other'
        end as event_role,
        key_features.feature_name as key_feature_name,
        key_features.weight as key_feature_weight,
        event_counts.events,
        event_counts.unresolved_events,
        event_counts.accounts,
        event_counts.users,
        event_counts.first_seen_at,
        event_counts.last_seen_at,
        {{ window_days }} as renewal_window_days,
        outcome_split.outcome_accounts,
        outcome_split.used_accounts,
        outcome_split.used_renewed_accounts,
        outcome_split.not_used_accounts,
        outcome_split.not_used_renewed_accounts,
        -- null, not 0, when a group is empty: no account to have a rate
        {{ ratio('outcome_split.used_renewed_accounts', 'outcome_split.used_accounts') }}
            as renewal_rate_used,
        {{ ratio('outcome_split.not_used_renewed_accounts', 'outcome_split.not_used_accounts') }}
            as renewal_rate_not_used
    from event_counts
    left join key_features
        on event_counts.event_name = key_features.event_name
    inner join outcome_split
        on event_counts.event_name = outcome_split.event_name
),

final as (
    select
        *,
        -- percentage points as a 0-1 difference; null when either group is empty
        renewal_rate_used - renewal_rate_not_used as renewal_rate_lift
    from rated
)

select * from final
