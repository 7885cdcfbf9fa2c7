with

checked as (
    select * from {{ ref('base_product__account_memberships') }}
),

final as (
    select
        account_membership_id,
        user_id,
        account_id,
        member_role,
        valid_from,
        valid_to
    from checked
    where rejection_reason is null
)

select * from final
