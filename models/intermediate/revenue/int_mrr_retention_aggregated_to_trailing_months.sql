-- Trailing-twelve-month retention inputs: for each month, the accounts that had MRR twelve months
-- earlier (the window's cohort), what they paid then and what they pay now.

with

account_months as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
),

window_starts as (
    select
        account_id,
        cast({{ dbt.dateadd('month', 12, 'month_start') }} as date) as month_start,
        mrr as window_start_mrr
    from account_months
    where mrr > 0
),

-- The account's spine runs to the as-of month, so the inner join keeps exactly the windows that
-- have ended by then.
window_ends as (
    select
        window_starts.month_start,
        window_starts.account_id,
        window_starts.window_start_mrr,
        account_months.mrr as window_end_mrr
    from window_starts
    inner join account_months
        on
            window_starts.account_id = account_months.account_id
            and window_starts.month_start = account_months.month_start
),

final as (
    select
        month_start,
        count(*) as ttm_starting_accounts,
        -- Money stays numeric at the input's scale on every engine (sums widen it differently).
        cast(sum(window_start_mrr) as {{ type_money() }}) as ttm_starting_mrr,
        cast(sum(window_end_mrr) as {{ type_money() }}) as ttm_net_retained_mrr,
        cast(sum(
            case when window_end_mrr < window_start_mrr then window_end_mrr else window_start_mrr end
        ) as {{ type_money() }}) as ttm_gross_retained_mrr,
        cast(sum(case when window_end_mrr = 0 then 1 else 0 end) as {{ dbt.type_bigint() }}) as ttm_churned_accounts,
        cast(sum(case when window_end_mrr = 0 then window_start_mrr else 0 end) as {{ type_money() }})
            as ttm_churned_mrr
    from window_ends
    group by month_start
)

select * from final
