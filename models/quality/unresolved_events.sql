-- Events no identity rule could attribute, with the reason (CONTRACT section 2: counted, never
-- guessed). The reasons are defined in _quality__unresolved.yml.

with

matched_events as (
    select
        event_id,
        user_id,
        anonymous_id,
        context_group_id,
        message_type,
        event_name,
        event_at,
        unresolved_reason
    from {{ ref('int_events_matched_to_account_rules') }}
    where account_id is null
),

final as (
    select
        event_id,
        user_id,
        anonymous_id,
        context_group_id,
        message_type,
        event_name,
        event_at,
        unresolved_reason as reason
    from matched_events
)

select * from final
