-- One row per NPS answer. account_id and submitted_at come first: the account page
-- (reports/data.py) orders this table by its second column.
-- nps_category follows the standard NPS bands: 9-10 promoter, 7-8 passive, 0-6 detractor.
-- respondent_email is kept on purpose (CS has to know who answered to follow up); it is the
-- answer's own attribute, not a per-user product row, so CONTRACT 3's account grain holds.

with

responses as (
    select
        nps_response_id,
        account_id,
        respondent_email,
        nps_score,
        submitted_at
    from {{ ref('stg_crm__nps_responses') }}
),

accounts as (
    select account_id
    from {{ ref('dim_accounts') }}
),

categorised as (
    select
        responses.account_id,
        responses.submitted_at,
        responses.nps_response_id,
        responses.nps_score,
        case
            when responses.nps_score >= 9 then 'promoter'
            when responses.nps_score >= 7 then 'passive'
            else 'detractor'
        end as nps_category,
        responses.respondent_email
    from responses
    -- only accounts the warehouse publishes, so every row relates to dim_accounts
    inner join accounts
        on responses.account_id = accounts.account_id
),

final as (
    select * from categorised
)

select * from final
