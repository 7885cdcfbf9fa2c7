-- Claim: fct_mrr_movements leaves out only months without a movement - every account month with
-- MRR has exactly one movement row with the same MRR, and no movement row has MRR 0 unless it is a churn.

with

account_months as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
    where mrr > 0
),

movements as (
    select
        account_id,
        month_start,
        mrr,
        movement_type
    from {{ ref('fct_mrr_movements') }}
),

paying_without_movement as (
    select
        account_months.account_id,
        account_months.month_start,
        'paying month without a movement row or with other mrr' as problem
    from account_months
    left join movements
        on
            account_months.account_id = movements.account_id
            and account_months.month_start = movements.month_start
    where movements.mrr is null or movements.mrr <> account_months.mrr
),

zero_rows_that_are_not_churn as (
    select
        account_id,
        month_start,
        'row without mrr that is not a churn' as problem
    from movements
    where mrr = 0 and movement_type <> 'churn'
)

select * from paying_without_movement
union all
select * from zero_rows_that_are_not_churn
