with

checked as (
    select * from {{ ref('base_crm__accounts') }}
),

final as (
    select
        account_id,
        account_name,
        domain,
        segment,
        industry,
        csm_owner,
        stripe_customer_id,
        created_at
    from checked
    where rejection_reason is null
)

select * from final
