with

checked as (
    select * from {{ ref('base_crm__support_tickets') }}
),

final as (
    select
        ticket_id,
        account_id,
        opened_at,
        closed_at,
        ticket_priority,
        ticket_status
    from checked
    where rejection_reason is null
)

select * from final
