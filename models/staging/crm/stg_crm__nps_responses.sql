with

checked as (
    select * from {{ ref('base_crm__nps_responses') }}
),

final as (
    select
        nps_response_id,
        account_id,
        respondent_email,
        nps_score,
        submitted_at
    from checked
    where rejection_reason is null
)

select * from final
