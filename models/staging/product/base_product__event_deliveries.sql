-- Deliveries with the first reason each one cannot be used (null = the stored copy of its event).
-- A table, not a view: the duplicate check joins every delivery to raw events on message_id (at
-- 48M events, 48M x 48M), and the stg_ model, the data tests and quality.rejected_records read
-- this result instead of each repeating the join (benchmarks/results/NOTES.md, memory).
{{ config(materialized='table') }}
{%- set key_text = dbt.concat(['source._source_file', "':'", 'cast(source._line_number as ' ~ dbt.type_string() ~ ')']) %}
{%- set rejection_reason %}
        case
            when not coalesce(source._is_json_object, false) then 'malformed_json'
            when source.message_id is null then 'missing_message_id'
            -- the delivery stored in events is the valid one; every other delivery is a duplicate
            when stored_events.stored_source_file = source._source_file
                and stored_events.stored_line_number = source._line_number then null
            when source._payload_hash = stored_events.stored_payload_hash then 'duplicate_message_id'
            else 'conflicting_duplicate'
        end
{%- endset %}
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

checked as (
    select
        {{ dbt.hash(key_text) }} as event_delivery_id,
        source.message_id as event_id,
        source._source_file as source_file,
        source._line_number as line_number,
        source._payload_hash as payload_hash,
        source._is_json_object as is_json_object,
        stored_events.stored_payload_hash,
        stored_events.stored_source_file,
        stored_events.stored_line_number,
        source._loaded_at as loaded_at,
        {{ key_text }} as record_key,
        -- the raw row as JSON only where quality.rejected_records reports it (a few rows), not
        -- for each of the stored copies
        case when ({{ rejection_reason }}) is not null then {{ row_to_json_text('source') }} end as raw_payload,
        {{ rejection_reason }} as rejection_reason
    from source
    left join stored_events
        on source.message_id = stored_events.message_id
)

select * from checked
