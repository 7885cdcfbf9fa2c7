with

checked as (
    select * from {{ ref('base_crm__cs_activities') }}
),

final as (
    select
        activity_id,
        account_id,
        occurred_at,
        activity_type,
        is_automated,
        sentiment,
        author
    from checked
    where rejection_reason is null
)

select * from final
