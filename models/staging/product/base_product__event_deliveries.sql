-- Deliveries with the first reason each one cannot be used (null = the stored copy of its event).
with

source as (
    select * from {{ source('product', 'event_deliveries') }}
),

stored_events as (
    select
        message_id,
        _payload_hash as stored_payload_hash,
        _source_file as stored_source_file,
        _line_number as stored_line_number
    from {{ source('product', 'events') }}
),

joined as (
    select
        {{ dbt.hash(dbt.concat(['source._source_file', "':'", 'cast(source._line_number as ' ~ dbt.type_string() ~ ')'])) }}
            as event_delivery_id,
        source.message_id as event_id,
        source._source_file as source_file,
        source._line_number as line_number,
        source._payload_hash as payload_hash,
        source._is_json_object as is_json_object,
        stored_events.stored_payload_hash,
        stored_events.stored_source_file,
        stored_events.stored_line_number,
        source._loaded_at as loaded_at,
        {{ dbt.concat(['source._source_file', "':'", 'cast(source._line_number as ' ~ dbt.type_string() ~ ')']) }}
            as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
    left join stored_events
        on source.message_id = stored_events.message_id
),

checked as (
    select
        *,
        case
            when not coalesce(is_json_object, false) then 'malformed_json'
            when event_id is null then 'missing_message_id'
            -- the delivery stored in events is the valid one; every other delivery is a duplicate
            when stored_source_file = source_file and stored_line_number = line_number then null
            when payload_hash = stored_payload_hash then 'duplicate_message_id'
            else 'conflicting_duplicate'
        end as rejection_reason
    from joined
)

select * from checked
