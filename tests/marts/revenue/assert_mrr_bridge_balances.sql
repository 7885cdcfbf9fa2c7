-- Claim: every month's MRR bridge balances (start + new + expansion + reactivation - contraction
-- - churned = ending) and each month starts where the previous one ended.

with

retention as (
    select
        month_start,
        starting_mrr,
        new_mrr,
        expansion_mrr,
        contraction_mrr,
        churned_mrr,
        reactivation_mrr,
        ending_mrr,
        lag(ending_mrr) over (order by month_start) as previous_ending_mrr
    from {{ ref('mart_revenue_retention') }}
)

select *
from retention
where
    abs(starting_mrr + new_mrr + expansion_mrr + reactivation_mrr - contraction_mrr - churned_mrr - ending_mrr) > 0.005
    or abs(coalesce(previous_ending_mrr, 0) - starting_mrr) > 0.005
