-- One row per CS activity. account_id and occurred_at come first: the account page
-- (reports/data.py) orders this table by its second column, newest first.
-- A human touch is a CS activity nobody automated (DECISIONS.md: the CS engagement score counts
-- the same rows in int_cs_signals_rolled_to_account_days).

with

activities as (
    select
        activity_id,
        account_id,
        occurred_at,
        activity_type,
        is_automated,
        sentiment,
        author
    from {{ ref('stg_crm__cs_activities') }}
),

accounts as (
    select account_id
    from {{ ref('dim_accounts') }}
),

final as (
    select
        activities.account_id,
        activities.occurred_at,
        activities.activity_id,
        activities.activity_type,
        coalesce(activities.is_automated, false) as is_automated,
        not coalesce(activities.is_automated, false) as is_human_touch,
        activities.sentiment,
        activities.author
    from activities
    -- only accounts the warehouse publishes, so every row relates to dim_accounts
    inner join accounts
        on activities.account_id = accounts.account_id
)

select * from final
