-- One row per account per month that carries MRR or loses it; movement types are defined in the
-- docs block `revenue__movement_type` (and DECISIONS.md "MRR movements").

with

account_months as (
    select
        account_month_id,
        account_id,
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
),

compared_to_previous_month as (
    select
        *,
        -- The spine starts in the first subscription month, so its first month compares to zero.
        coalesce(
            lag(mrr) over (partition by account_id order by month_start),
            0
        ) as previous_mrr,
        -- Whether any earlier month carried MRR: tells a reactivation from a new account.
        coalesce(
            max(case when mrr > 0 then 1 else 0 end) over (
                partition by account_id
                order by month_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as had_mrr_before
    from account_months
),

classified as (
    select
        *,
        case
            when mrr > 0 and previous_mrr = 0 and had_mrr_before = 0 then 'new'
            when mrr > 0 and previous_mrr = 0 then 'reactivation'
            when mrr = 0 and previous_mrr > 0 then 'churn'
            when mrr > previous_mrr then 'expansion'
            when mrr < previous_mrr then 'contraction'
            else 'flat'
        end as movement_type
    from compared_to_previous_month
),

final as (
    select
        account_month_id,
        account_id,
        month_start,
        mrr,
        -- money at the scale of mrr on every engine (coalesce and subtraction widen it differently)
        cast(previous_mrr as {{ type_money() }}) as previous_mrr,
        cast(mrr - previous_mrr as {{ type_money() }}) as mrr_change,
        movement_type,
        -- The month of the account's `new` movement: its revenue cohort.
        min(case when mrr > 0 then month_start end) over (partition by account_id) as cohort_month,
        mrr > 0 as is_paying
    from classified
    -- Months with no MRR before the first payment or after a churn carry no movement and are left out.
    where mrr > 0 or previous_mrr > 0
)

select * from final
