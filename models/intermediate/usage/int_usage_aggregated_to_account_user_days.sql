-- What each resolved user did in each account on each day: aggregated early so that rolling
-- windows, top-user shares and last activity read one row per user-day instead of raw events.

with

resolved_events as (
    select
        account_id,
        user_id,
        event_date,
        message_type,
        event_at
    from {{ ref('int_events_resolved_to_accounts') }}
    -- Per-user rows only: events attributed without a user (anonymous, rule 1) count in the
    -- account's totals, not here.
    where user_id is not null
),

final as (
    select
        {{ dbt.concat(['account_id', "'_'", 'user_id', "'_'", 'cast(event_date as ' ~ dbt.type_string() ~ ')']) }}
            as account_user_day_id,
        account_id,
        user_id,
        event_date as date_day,
        count(*) as events,
        cast(sum(case when message_type = 'track' then 1 else 0 end) as {{ dbt.type_bigint() }}) as track_events,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from resolved_events
    group by
        account_id,
        user_id,
        event_date
)

select * from final
