with

checked as (
    select * from {{ ref('base_stripe__subscription_items') }}
),

final as (
    select
        stripe_subscription_item_id,
        stripe_subscription_id,
        stripe_price_id,
        stripe_product_id,
        quantity,
        unit_amount,
        currency,
        billing_interval,
        billing_interval_count,
        price_kind,
        current_period_start_at,
        current_period_end_at
    from checked
    where rejection_reason is null
)

select * from final
