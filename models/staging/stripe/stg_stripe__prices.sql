-- One row per Stripe price (`billing/prices*.jsonl`, merged on id): how an invoice line that names its
-- price only by id is valued. Not checked here: a line valued with an unusable price is rejected as
-- that line (base_stripe__invoice_lines), so every raw price is staged.
with

source as (
    select * from {{ source('stripe', 'prices') }}
),

final as (
    select
        source.id as stripe_price_id,
        source.product as stripe_product_id,
        source.type as price_type,
        source.active as is_active,
        lower(source.currency) as currency,
        source.unit_amount as unit_amount_cents,
        cast(source.unit_amount as {{ type_double() }}) / 100 as unit_amount,
        source.recurring__interval as billing_interval,
        source.recurring__interval_count as billing_interval_count,
        source.metadata__kind as price_kind,
        {{ timestamp_from_unix_seconds('source.created') }} as created_at,
        source._loaded_at as loaded_at
    from source
)

select * from final
