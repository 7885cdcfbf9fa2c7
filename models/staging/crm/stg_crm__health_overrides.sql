with

checked as (
    select * from {{ ref('base_crm__health_overrides') }}
),

final as (
    select
        override_id,
        account_id,
        override_quadrant,
        override_score,
        override_note,
        author,
        created_at,
        expires_at
    from checked
    where rejection_reason is null
)

select * from final
