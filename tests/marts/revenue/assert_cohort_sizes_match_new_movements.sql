-- Claim: the cohorts hold exactly the accounts with a `new` movement, each once.

with

cohort_sizes as (
    select
        cohort_month,
        accounts
    from {{ ref('mart_cohort_retention') }}
    where months_since_start = 0
),

new_accounts as (
    select
        month_start as cohort_month,
        count(*) as accounts -- noqa: RF04
    from {{ ref('fct_mrr_movements') }}
    where movement_type = 'new'
    group by month_start
)

select
    coalesce(cohort_sizes.cohort_month, new_accounts.cohort_month) as cohort_month,
    cohort_sizes.accounts as cohort_accounts,
    new_accounts.accounts as new_accounts
from cohort_sizes
full outer join new_accounts
    on cohort_sizes.cohort_month = new_accounts.cohort_month
where
    cohort_sizes.accounts is null
    or new_accounts.accounts is null
    or cohort_sizes.accounts <> new_accounts.accounts
