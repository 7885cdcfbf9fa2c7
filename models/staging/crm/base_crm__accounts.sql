-- Typed accounts with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('crm', 'accounts') }}
),

typed as (
    select
        nullif(trim(source.account_id), '') as account_id,
        nullif(trim(source.name), '') as account_name,
        lower(nullif(trim(source.domain), '')) as domain,
        lower(nullif(trim(source.segment), '')) as segment,
        nullif(trim(source.industry), '') as industry,
        nullif(trim(source.csm_owner), '') as csm_owner,
        nullif(trim(source.stripe_customer_id), '') as stripe_customer_id,
        {{ try_cast_timestamp_utc('trim(source.created_at)') }} as created_at,
        source._loaded_at as loaded_at,
        source.account_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        *,
        case
            when account_id is null then 'invalid_value'
            when created_at is null then 'unparseable_timestamp'
            when segment is null or segment not in ('smb', 'mid_market', 'enterprise') then 'invalid_value'
        end as rejection_reason
    from typed
)

select * from checked
