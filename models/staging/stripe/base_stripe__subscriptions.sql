-- Typed subscriptions with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('stripe', 'subscriptions') }}
),

typed as (
    select
        source.id as stripe_subscription_id,
        source.customer as stripe_customer_id,
        source.status as subscription_status,
        {{ timestamp_from_unix_seconds('source.start_date') }} as started_at,
        {{ timestamp_from_unix_seconds('source.current_period_start') }} as current_period_start_at,
        {{ timestamp_from_unix_seconds('source.current_period_end') }} as current_period_end_at,
        coalesce(source.cancel_at_period_end, false) as cancel_at_period_end,
        {{ timestamp_from_unix_seconds('source.canceled_at') }} as canceled_at,
        {{ timestamp_from_unix_seconds('source.ended_at') }} as ended_at,
        {{ timestamp_from_unix_seconds('source.created') }} as created_at,
        source._dlt_id as dlt_id,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        *,
        case
            when stripe_customer_id is null then 'invalid_value'
            when subscription_status is null or subscription_status not in (
                'incomplete', 'incomplete_expired', 'trialing', 'active',
                'past_due', 'canceled', 'unpaid', 'paused'
            ) then 'invalid_value'
        end as rejection_reason
    from typed
)

select * from checked
