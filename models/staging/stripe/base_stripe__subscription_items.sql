-- Subscription items flattened from dlt's child table, typed, with the first reason each cannot be used.
{#- column_or_null's shared arguments, short so each column fits on a line #}
{%- set items = 'subscriptions__items__data' %}
{%- set string_type = dbt.type_string() %}
{%- set bigint_type = dbt.type_bigint() %}
{%- set accepted_currency_list = "'" ~ var('accepted_currencies') | join("', '") ~ "'" %}
with

source as (
    select * from {{ source('stripe', 'subscriptions__items__data') }}
),

subscriptions as (
    select
        dlt_id,
        stripe_subscription_id,
        rejection_reason as parent_rejection_reason
    from {{ ref('base_stripe__subscriptions') }}
),

typed as (
    select
        source.id as stripe_subscription_item_id,
        coalesce(
            {{ column_or_null('stripe', items, 'subscription', string_type, 'source') }},
            subscriptions.stripe_subscription_id
        ) as stripe_subscription_id,
        {{ column_or_null('stripe', items, 'price__id', string_type, 'source') }} as stripe_price_id,
        {{ column_or_null('stripe', items, 'price__product', string_type, 'source') }} as stripe_product_id,
        {{ column_or_null('stripe', items, 'price__type', string_type, 'source') }} as price_type,
        {{ column_or_null('stripe', items, 'quantity', bigint_type, 'source') }} as quantity,
        {{ column_or_null('stripe', items, 'price__unit_amount', bigint_type, 'source') }} as unit_amount_cents,
        lower({{ column_or_null('stripe', items, 'price__currency', string_type, 'source') }}) as currency,
        {{ column_or_null('stripe', items, 'price__recurring__interval', string_type, 'source') }} as billing_interval,
        {{ column_or_null('stripe', items, 'price__recurring__interval_count', bigint_type, 'source') }}
            as billing_interval_count,
        {{ column_or_null('stripe', items, 'price__metadata__kind', string_type, 'source') }} as price_kind,
        -- the item's own current period: set by the 2025+ API, null in the classic shape
        {{ timestamp_from_unix_seconds(
            column_or_null('stripe', items, 'current_period_start', bigint_type, 'source')) }} as current_period_start_at,
        {{ timestamp_from_unix_seconds(
            column_or_null('stripe', items, 'current_period_end', bigint_type, 'source')) }} as current_period_end_at,
        subscriptions.parent_rejection_reason,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
    left join subscriptions
        on source._dlt_parent_id = subscriptions.dlt_id
),

checked as (
    select
        stripe_subscription_item_id,
        stripe_subscription_id,
        stripe_price_id,
        stripe_product_id,
        price_type,
        quantity,
        unit_amount_cents,
        cast(unit_amount_cents as {{ dbt.type_numeric() }}) / 100 as unit_amount,
        currency,
        billing_interval,
        billing_interval_count,
        price_kind,
        current_period_start_at,
        current_period_end_at,
        loaded_at,
        record_key,
        raw_payload,
        case
            when parent_rejection_reason is not null then 'parent_rejected'
            when unit_amount_cents < 0 or quantity < 0 then 'negative_amount'
            when
                currency is null
                or currency not in ({{ accepted_currency_list }})
                then 'unknown_currency'
            when billing_interval is null or billing_interval not in ('day', 'week', 'month', 'year')
                then 'invalid_value'
            when billing_interval_count is null or billing_interval_count < 1 then 'invalid_value'
        end as rejection_reason
    from typed
)

select * from checked
