-- Typed customers with the first reason each one cannot be used (null = valid).
{%- set accepted_currency_list = "'" ~ var('accepted_currencies') | join("', '") ~ "'" %}
with

source as (
    select * from {{ source('stripe', 'customers') }}
),

typed as (
    select
        source.id as stripe_customer_id,
        source.name as customer_name,
        lower(source.email) as email,
        lower(source.currency) as currency,
        {{ timestamp_from_unix_seconds('source.created') }} as created_at,
        coalesce(source.deleted, false) as is_deleted,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        *,
        case
            -- a customer without a default currency yet is valid; a currency we cannot convert is not
            when currency not in ({{ accepted_currency_list }}) then 'unknown_currency'
        end as rejection_reason
    from typed
)

select * from checked
