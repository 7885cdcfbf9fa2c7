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
        unresolved_reason,
        _built_at
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
        unresolved_reason as reason,
        -- the run that resolved the event (int_events_matched_to_account_rules): an incremental run's
        -- data tests read the rows it resolved only
        _built_at
    from matched_events
)

select * from final
