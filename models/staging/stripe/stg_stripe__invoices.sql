with

checked as (
    select * from {{ ref('base_stripe__invoices') }}
),

final as (
    select
        stripe_invoice_id,
        stripe_customer_id,
        stripe_subscription_id,
        invoice_status,
        currency,
        total,
        amount_paid,
        created_at,
        period_start_at,
        period_end_at
    from checked
    where rejection_reason is null
)

select * from final
