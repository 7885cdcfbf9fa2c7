with

checked as (
    select * from {{ ref('base_stripe__customers') }}
),

final as (
    select
        stripe_customer_id,
        customer_name,
        email,
        currency,
        created_at,
        is_deleted
    from checked
    where rejection_reason is null
)

select * from final
