-- Typed invoices with the first reason each one cannot be used (null = valid).
{%- set accepted_currency_list = "'" ~ var('accepted_currencies') | join("', '") ~ "'" %}
with

source as (
    select * from {{ source('stripe', 'invoices') }}
),

typed as (
    select
        source.id as stripe_invoice_id,
        source.customer as stripe_customer_id,
        -- classic shape: `subscription`; 2025+ API: `parent.subscription_details.subscription`
        coalesce(source.subscription, source.parent__subscription_details__subscription) as stripe_subscription_id,
        source.status as invoice_status,
        lower(source.currency) as currency,
        source.total as total_cents,
        source.amount_paid as amount_paid_cents,
        {{ timestamp_from_unix_seconds('source.created') }} as created_at,
        {{ timestamp_from_unix_seconds('source.period_start') }} as period_start_at,
        {{ timestamp_from_unix_seconds('source.period_end') }} as period_end_at,
        source._dlt_id as dlt_id,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        stripe_invoice_id,
        stripe_customer_id,
        stripe_subscription_id,
        invoice_status,
        currency,
        cast(total_cents as {{ dbt.type_numeric() }}) / 100 as total,
        cast(amount_paid_cents as {{ dbt.type_numeric() }}) / 100 as amount_paid,
        created_at,
        period_start_at,
        period_end_at,
        dlt_id,
        loaded_at,
        record_key,
        raw_payload,
        case
            when
                currency is null
                or currency not in ({{ accepted_currency_list }})
                then 'unknown_currency'
            when total_cents < 0 or amount_paid_cents < 0 then 'negative_amount'
            when
                invoice_status is null
                or invoice_status not in ('draft', 'open', 'paid', 'uncollectible', 'void')
                then 'invalid_value'
            when stripe_customer_id is null then 'invalid_value'
        end as rejection_reason
    from typed
)

select * from checked
