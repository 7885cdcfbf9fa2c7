-- Typed support tickets with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('crm', 'support_tickets') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

typed as (
    select
        nullif(trim(source.ticket_id), '') as ticket_id,
        nullif(trim(source.account_id), '') as account_id,
        {{ try_cast_timestamp_utc('trim(source.opened_at)') }} as opened_at,
        {{ try_cast_timestamp_utc("nullif(trim(source.closed_at), '')") }} as closed_at,
        nullif(trim(source.closed_at), '') is not null as has_closed_at_text,
        lower(nullif(trim(source.priority), '')) as ticket_priority,
        lower(nullif(trim(source.status), '')) as ticket_status,
        source._loaded_at as loaded_at,
        source.ticket_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        typed.*,
        case
            when typed.ticket_id is null or typed.account_id is null then 'invalid_value'
            when typed.opened_at is null then 'unparseable_timestamp'
            when typed.has_closed_at_text and typed.closed_at is null then 'unparseable_timestamp'
            when accounts.account_id is null then 'unknown_account_crm'
        end as rejection_reason
    from typed
    left join accounts
        on typed.account_id = accounts.account_id
)

select * from checked
