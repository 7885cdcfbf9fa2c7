-- Invoice lines flattened from dlt's child table (both Stripe line shapes), typed, with the first
-- reason each cannot be used (null = valid).
{#- column_or_null's shared arguments, short so each column fits on a line #}
{%- set lines = 'invoices__lines__data' %}
{%- set string_type = dbt.type_string() %}
{%- set bigint_type = dbt.type_bigint() %}
{%- set boolean_type = dbt.type_boolean() %}
{#- the price the line names: classic `price.id`, 2025+ `pricing.price_details.price` #}
{%- set line_price_id -%}
    coalesce(
        {{ column_or_null('stripe', lines, 'price__id', string_type, 'source') }},
        {{ column_or_null('stripe', lines, 'pricing__price_details__price', string_type, 'source') }}
    )
{%- endset %}
{%- set accepted_currency_list = "'" ~ var('accepted_currencies') | join("', '") ~ "'" %}
with

source as (
    select * from {{ source('stripe', 'invoices__lines__data') }}
),

invoices as (
    select
        dlt_id,
        stripe_invoice_id,
        stripe_subscription_id,
        currency as invoice_currency,
        rejection_reason as parent_rejection_reason
    from {{ ref('base_stripe__invoices') }}
),

-- A line that names its price only by id (2025+ shape) is valued with the price from
-- `billing/prices*.jsonl`, else with the price as a subscription item expands it. Stripe prices
-- cannot change amount, currency or interval, so every source of one price id agrees on those.
prices as (
    select
        stripe_price_id,
        price_type,
        currency,
        unit_amount_cents,
        billing_interval,
        billing_interval_count,
        price_kind
    from {{ ref('stg_stripe__prices') }}
),

item_prices_ranked as (
    select
        stripe_price_id,
        price_type,
        currency,
        unit_amount_cents,
        billing_interval,
        billing_interval_count,
        price_kind,
        row_number() over (
            partition by stripe_price_id
            order by loaded_at desc, stripe_subscription_item_id asc
        ) as price_rank
    from {{ ref('base_stripe__subscription_items') }}
    where stripe_price_id is not null and rejection_reason is null
),

item_prices as (
    select * from item_prices_ranked
    where price_rank = 1
),

typed as (
    select
        source.id as stripe_invoice_line_id,
        invoices.stripe_invoice_id,
        coalesce(
            {{ column_or_null('stripe', lines, 'subscription', string_type, 'source') }},
            {{ column_or_null(
                'stripe', lines, 'parent__subscription_item_details__subscription', string_type, 'source'
            ) }},
            {{ column_or_null(
                'stripe', lines, 'parent__invoice_item_details__subscription', string_type, 'source'
            ) }},
            invoices.stripe_subscription_id
        ) as stripe_subscription_id,
        coalesce(
            {{ column_or_null('stripe', lines, 'subscription_item', string_type, 'source') }},
            {{ column_or_null(
                'stripe', lines, 'parent__subscription_item_details__subscription_item', string_type, 'source'
            ) }}
        ) as stripe_subscription_item_id,
        {{ line_price_id }} as stripe_price_id,
        coalesce(
            {{ column_or_null('stripe', lines, 'type', string_type, 'source') }},
            case {{ column_or_null('stripe', lines, 'parent__type', string_type, 'source') }}
                when 'subscription_item_details' then 'subscription'
                when 'invoice_item_details' then 'invoiceitem'
            end
        ) as line_type,
        coalesce(
            {{ column_or_null('stripe', lines, 'price__type', string_type, 'source') }},
            prices.price_type,
            item_prices.price_type
        ) as price_type,
        coalesce(
            {{ column_or_null('stripe', lines, 'proration', boolean_type, 'source') }},
            -- 2025+: the flag is in the details the parent type names
            case {{ column_or_null('stripe', lines, 'parent__type', string_type, 'source') }}
                when 'subscription_item_details'
                    then {{ column_or_null(
                        'stripe', lines, 'parent__subscription_item_details__proration', boolean_type, 'source'
                    ) }}
                when 'invoice_item_details'
                    then {{ column_or_null(
                        'stripe', lines, 'parent__invoice_item_details__proration', boolean_type, 'source'
                    ) }}
            end,
            false
        ) as is_proration,
        {{ column_or_null('stripe', lines, 'quantity', bigint_type, 'source') }} as quantity,
        {{ column_or_null('stripe', lines, 'amount', bigint_type, 'source') }} as amount_cents,
        coalesce(
            {{ column_or_null('stripe', lines, 'price__unit_amount', bigint_type, 'source') }},
            prices.unit_amount_cents,
            item_prices.unit_amount_cents
        ) as unit_amount_cents,
        -- the 2025+ line may carry no currency: the price's, else the invoice's
        lower(coalesce(
            {{ column_or_null('stripe', lines, 'currency', string_type, 'source') }},
            {{ column_or_null('stripe', lines, 'price__currency', string_type, 'source') }},
            prices.currency,
            item_prices.currency,
            invoices.invoice_currency
        )) as currency,
        coalesce(
            {{ column_or_null('stripe', lines, 'price__recurring__interval', string_type, 'source') }},
            prices.billing_interval,
            item_prices.billing_interval
        ) as billing_interval,
        coalesce(
            {{ column_or_null('stripe', lines, 'price__recurring__interval_count', bigint_type, 'source') }},
            prices.billing_interval_count,
            item_prices.billing_interval_count
        ) as billing_interval_count,
        coalesce(
            {{ column_or_null('stripe', lines, 'price__metadata__kind', string_type, 'source') }},
            prices.price_kind,
            item_prices.price_kind
        ) as price_kind,
        {{ timestamp_from_unix_seconds(column_or_null('stripe', lines, 'period__start', bigint_type, 'source')) }}
            as period_start_at,
        {{ timestamp_from_unix_seconds(column_or_null('stripe', lines, 'period__end', bigint_type, 'source')) }}
            as period_end_at,
        invoices.parent_rejection_reason,
        source._loaded_at as loaded_at,
        source.id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
    left join invoices
        on source._dlt_parent_id = invoices.dlt_id
    left join prices
        on {{ line_price_id }} = prices.stripe_price_id
    left join item_prices
        on {{ line_price_id }} = item_prices.stripe_price_id
),

checked as (
    select
        stripe_invoice_line_id,
        stripe_invoice_id,
        stripe_subscription_id,
        stripe_subscription_item_id,
        stripe_price_id,
        line_type,
        -- recurring: the line's price says so; with no price found, a subscription line is
        coalesce(
            price_type = 'recurring',
            case when billing_interval is not null then true end,
            line_type = 'subscription',
            false
        ) as is_recurring,
        is_proration,
        quantity,
        -- a double on every engine: DuckDB already returns one for decimal / integer, PostgreSQL a
        -- numeric with a long scale that unit tests (compared as text) would read as different
        cast(amount_cents as {{ type_double() }}) / 100 as amount,
        cast(unit_amount_cents as {{ type_double() }}) / 100 as unit_amount,
        currency,
        billing_interval,
        billing_interval_count,
        price_kind,
        period_start_at,
        period_end_at,
        loaded_at,
        record_key,
        raw_payload,
        case
            when parent_rejection_reason is not null then 'parent_rejected'
            -- credits of a proration are legitimately negative; any other negative line is not
            when (amount_cents < 0 and not is_proration) or quantity < 0 then 'negative_amount'
            when
                currency is null
                or currency not in ({{ accepted_currency_list }})
                then 'unknown_currency'
            when billing_interval not in ('day', 'week', 'month', 'year') then 'invalid_value'
            -- a recurring line whose price is nowhere (not on the line, in prices, or on an item)
            -- has no interval to value its MRR with
            when
                billing_interval is null
                and not is_proration
                and coalesce(price_type = 'recurring', line_type = 'subscription', false)
                then 'unknown_price'
        end as rejection_reason
    from typed
)

select * from checked
