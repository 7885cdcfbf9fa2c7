-- Typed events with the first reason each one cannot be used (null = valid); see _product__models.yml.
with

source as (
    select * from {{ source('product', 'events') }}
),

typed as (
    select
        source.message_id as event_id,
        source.type as message_type,
        source.event as event_name,
        source.user_id,
        source.anonymous_id,
        source.context_group_id,
        source.group_id,
        lower({{ json_extract_text('source.traits', 'email') }}) as email,
        {{ json_extract_text('source.properties', 'feature') }} as feature_name,
        {{ json_extract_text('source.properties', 'milestone') }} as milestone_name,
        {{ json_extract_text('source.properties', 'quota') }} as quota_name,
        {{ try_cast_integer(json_extract_text('source.properties', 'threshold_pct')) }} as quota_threshold_pct,
        source.properties,
        source.traits,
        {{ try_cast_timestamp_utc('source.timestamp') }} as event_at,
        {{ try_cast_timestamp_utc('source.received_at') }} as received_at,
        source._loaded_at as loaded_at,
        source._source_file as source_file,
        source.message_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        *,
        case
            when event_at is null then 'unparseable_timestamp'
            when message_type is null or message_type not in ('track', 'identify', 'group', 'page')
                then 'invalid_value'
            when message_type = 'group' and group_id is null then 'invalid_value'
            when user_id is null and anonymous_id is null then 'missing_identity'
        end as rejection_reason
    from typed
)

select * from checked
