-- Typed CS activities with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('crm', 'cs_activities') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

typed as (
    select
        nullif(trim(source.activity_id), '') as activity_id,
        nullif(trim(source.account_id), '') as account_id,
        {{ try_cast_timestamp_utc('trim(source.occurred_at)') }} as occurred_at,
        lower(nullif(trim(source.activity_type), '')) as activity_type,
        lower(trim(source.is_automated)) as is_automated_text,
        lower(nullif(trim(source.sentiment), '')) as sentiment,
        nullif(trim(source.author), '') as author,
        source._loaded_at as loaded_at,
        source.activity_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        typed.activity_id,
        typed.account_id,
        typed.occurred_at,
        typed.activity_type,
        -- null-safe boolean: only the text 'true' is true; '' (not recorded) is false
        coalesce(typed.is_automated_text = 'true', false) as is_automated,
        typed.sentiment,
        typed.author,
        typed.loaded_at,
        typed.record_key,
        typed.raw_payload,
        case
            when typed.activity_id is null or typed.account_id is null then 'invalid_value'
            when typed.occurred_at is null then 'unparseable_timestamp'
            when
                typed.activity_type is null
                or typed.activity_type not in ('call', 'meeting', 'qbr', 'email', 'note')
                then 'invalid_value'
            when typed.is_automated_text not in ('true', 'false', '') then 'invalid_value'
            when typed.sentiment not in ('positive', 'neutral', 'negative') then 'invalid_value'
            when accounts.account_id is null then 'unknown_account_crm'
        end as rejection_reason
    from typed
    left join accounts
        on typed.account_id = accounts.account_id
)

select * from checked
