-- Product question (seed 004): which event is the activation milestone? Every candidate (each track
-- event name; onboarding milestones as `event:milestone`) ranked by how far reaching it within 7 and
-- 14 days of signup separates the retained cohort from the churned one. The same ranking as
-- `account-health calibrate --activation` (pipelines/calibrate/core.py), here over dbt refs:
--   population  accounts created while the product source was recording (else "not reached" may
--               mean "not recorded"), at least 14 days before its last day, with billing history
--   churned     any `churn` movement in fct_mrr_movements up to the as-of date
--   lift        retention rate of the accounts that reached it minus that of those that did not
-- Configure the winner with vars activation_event / activation_milestone (mart_activation).

with

events as (
    select
        account_id,
        event_date,
        message_type,
        event_name,
        milestone_name
    from {{ ref('int_events_resolved_to_accounts') }}
),

source_window as (
    select
        min(event_date) as first_event_date,
        max(event_date) as last_event_date
    from events
),

accounts as (
    select
        crm_accounts.account_id,
        cast(crm_accounts.created_at as date) as created_date
    from {{ ref('stg_crm__accounts') }} as crm_accounts
    cross join source_window
    where
        cast(crm_accounts.created_at as date) >= source_window.first_event_date
        and {{ dbt.dateadd('day', 14, 'cast(crm_accounts.created_at as date)') }} <= source_window.last_event_date
),

outcomes as (
    select
        accounts.account_id,
        accounts.created_date,
        max(case when movements.movement_type = 'churn' then 1 else 0 end) as has_churned
    from accounts
    inner join {{ ref('fct_mrr_movements') }} as movements
        on accounts.account_id = movements.account_id
    group by
        accounts.account_id,
        accounts.created_date
),

first_reached as (
    select
        events.account_id,
        case
            when events.milestone_name is not null
                then {{ dbt.concat(['events.event_name', "':'", 'events.milestone_name']) }}
            else events.event_name
        end as candidate,
        min(events.event_date) as reached_on
    from events
    inner join accounts
        on events.account_id = accounts.account_id
    where events.message_type = 'track'
    group by
        events.account_id,
        case
            when events.milestone_name is not null
                then {{ dbt.concat(['events.event_name', "':'", 'events.milestone_name']) }}
            else events.event_name
        end
),

candidates as (
    select candidate from first_reached
    group by candidate
),

windows as (
    select 7 as window_days
    union all
    select 14 as window_days
),

reached as (
    select
        candidates.candidate,
        windows.window_days,
        outcomes.has_churned,
        case
            when first_reached.reached_on <= {{ dbt.dateadd('day', 'windows.window_days', 'outcomes.created_date') }}
                then 1
            else 0
        end as has_reached
    from candidates
    cross join windows
    cross join outcomes
    left join first_reached
        on
            candidates.candidate = first_reached.candidate
            and outcomes.account_id = first_reached.account_id
),

counted as (
    select
        candidate,
        window_days,
        sum(has_reached) as reached_accounts,
        sum(has_reached * (1 - has_churned)) as reached_retained,
        sum(1 - has_reached) as not_reached_accounts,
        sum((1 - has_reached) * (1 - has_churned)) as not_reached_retained
    from reached
    group by
        candidate,
        window_days
)

select
    candidate,
    window_days,
    reached_accounts,
    not_reached_accounts,
    {{ ratio('reached_retained', 'reached_accounts') }} as reached_retention_rate,
    {{ ratio('not_reached_retained', 'not_reached_accounts') }} as not_reached_retention_rate,
    {{ ratio('reached_retained', 'reached_accounts') }}
    - {{ ratio('not_reached_retained', 'not_reached_accounts') }} as retention_lift
from counted
where reached_accounts >= 5 and not_reached_accounts >= 5
order by
    retention_lift desc,
    candidate asc,
    window_days asc
