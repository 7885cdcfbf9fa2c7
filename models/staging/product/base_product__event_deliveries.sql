-- Deliveries with the first reason each one cannot be used (null = the stored copy of its event).
-- A table, not a view: the duplicate check joins every delivery to raw events on message_id (at
-- 48M events, 48M x 48M), and the stg_ model, the data tests and quality.rejected_records read
-- this result instead of each repeating the join (benchmarks/results/NOTES.md, memory).
-- Incremental (issue 9): a run checks only the deliveries loaded after the built table's latest
-- `loaded_at`, against the stored copies of their messages; a re-landed file (or a table built
-- before `_built_at`) makes it rebuild from every delivery, so the result equals a full refresh
-- (macros/incremental/event_deliveries_plan.sql). Spark has no delete on plain tables: a table there.
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ planned_pre_hook() }}" if target.type != 'spark' else [],
    )
}}
{%- set plan = event_deliveries_plan(this, source('product', 'event_deliveries'), source('product', 'events'))
    if target.type != 'spark' else {'mode': 'full', 'rebuild': false, 'reprocess': []} %}
{{ planned_pre_hook_statement(event_deliveries_pre_statement(plan, this)) }}
{%- set new_rows_only = plan.mode == 'new_rows' %}
{%- set line_text = 'cast(source._line_number as ' ~ dbt.type_string() ~ ')' %}
{%- set key_text = dbt.concat(['source._source_file', "':'", line_text]) %}
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
    {%- if new_rows_only %}
    where _loaded_at > '{{ plan.mark }}'
    {%- if plan.reprocess %}
    union all
    -- old deliveries checked again (see the macro): deleted by the pre-hook
    select * from {{ source('product', 'event_deliveries') }}
    where _loaded_at <= '{{ plan.mark }}'
        and ({{ event_deliveries_keys_predicate(plan.reprocess, '_source_file', '_line_number') }})
    {%- endif %}
    {%- endif %}
),

stored_events as (
    select
        message_id,
        _payload_hash as stored_payload_hash,
        _source_file as stored_source_file,
        _line_number as stored_line_number
    from {{ source('product', 'events') }}
    {%- if new_rows_only %}
    -- only the messages of the deliveries checked (the join's build side stays small)
    where message_id in (select source.message_id from source where source.message_id is not null)
    {%- endif %}
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
        {{ rejection_reason }} as rejection_reason,
        {{ built_at_column() }} as _built_at
    from source
    left join stored_events
        on source.message_id = stored_events.message_id
)

select * from checked
