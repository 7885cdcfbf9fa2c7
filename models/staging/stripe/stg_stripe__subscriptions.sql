with

checked as (
    select * from {{ ref('base_stripe__subscriptions') }}
),

final as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        subscription_status,
        started_at,
        current_period_start_at,
        current_period_end_at,
        current_period_source,
        cancel_at_period_end,
        canceled_at,
        ended_at,
        created_at
    from checked
    where rejection_reason is null
)

select * from final
