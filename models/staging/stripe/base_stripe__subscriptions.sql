-- Typed subscriptions with the first reason each one cannot be used (null = valid).
-- The current period is the subscription's own current_period_start/end (Stripe API before 2025)
-- when it has an end, else its items' (2025+ API: `items.data[].current_period_*`, none on the
-- subscription): the earliest item end, with the start of the item ending then (ties: the later
-- start). Items are read raw, rejected or not: their period is Stripe's whatever we make of the price.
{#- column_or_null's shared arguments, short so each column fits on a line #}
{%- set items = 'subscriptions__items__data' %}
{%- set bigint_type = dbt.type_bigint() %}
with

source as (
    select * from {{ source('stripe', 'subscriptions') }}
),

item_periods as (
    select
        item_rows._dlt_parent_id as dlt_parent_id,
        {{ column_or_null('stripe', items, 'current_period_start', bigint_type, 'item_rows') }} as period_start,
        {{ column_or_null('stripe', items, 'current_period_end', bigint_type, 'item_rows') }} as period_end
    from {{ source('stripe', 'subscriptions__items__data') }} as item_rows
),

first_item_ends as (
    select
        dlt_parent_id,
        min(period_end) as period_end
    from item_periods
    group by dlt_parent_id
),

items_current_periods as (
    select
        first_item_ends.dlt_parent_id,
        max(item_periods.period_start) as period_start,
        first_item_ends.period_end
    from first_item_ends
    inner join item_periods
        on
            first_item_ends.dlt_parent_id = item_periods.dlt_parent_id
            and first_item_ends.period_end = item_periods.period_end
    group by
        first_item_ends.dlt_parent_id,
        first_item_ends.period_end
),

typed as (
    select
        source.id as stripe_subscription_id,
        source.customer as stripe_customer_id,
        source.status as subscription_status,
        {{ timestamp_from_unix_seconds('source.start_date') }} as started_at,
        case
            when source.current_period_end is not null
                then {{ timestamp_from_unix_seconds('source.current_period_start') }}
            else {{ timestamp_from_unix_seconds('items_current_periods.period_start') }}
        end as current_period_start_at,
        {{ timestamp_from_unix_seconds(
            'coalesce(source.current_period_end, items_current_periods.period_end)') }} as current_period_end_at,
        case
            when source.current_period_end is not null then 'subscription'
            when items_current_periods.period_end is not null then 'items'
        end as current_period_source,
        coalesce(source.cancel_at_period_end, false) as cancel_at_period_end,
        {{ timestamp_from_unix_seconds('source.canceled_at') }} as canceled_at,
        {{ timestamp_from_unix_seconds('source.ended_at') }} as ended_at,
        {{ timestamp_from_unix_seconds('source.created') }} as created_at,
        source._dlt_id as dlt_id,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
    left join items_current_periods
        on source._dlt_id = items_current_periods.dlt_parent_id
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
