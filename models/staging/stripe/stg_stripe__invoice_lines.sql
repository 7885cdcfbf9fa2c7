with

checked as (
    select * from {{ ref('base_stripe__invoice_lines') }}
),

final as (
    select
        stripe_invoice_line_id,
        stripe_invoice_id,
        stripe_subscription_id,
        stripe_subscription_item_id,
        stripe_price_id,
        line_type,
        is_recurring,
        is_proration,
        quantity,
        amount,
        unit_amount,
        currency,
        billing_interval,
        billing_interval_count,
        price_kind,
        period_start_at,
        period_end_at
    from checked
    where rejection_reason is null
)

select * from final
