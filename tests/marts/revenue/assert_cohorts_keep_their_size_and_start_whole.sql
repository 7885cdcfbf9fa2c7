-- Claim: a cohort's size never changes with tenure, every cohort has a month 0 at which all its
-- accounts are retained, and logo retention stays within 0-1.

with

cohorts as (
    select
        cohort_month,
        months_since_start,
        accounts,
        retained_accounts,
        logo_retention,
        revenue_retention,
        min(accounts) over (partition by cohort_month) as smallest_size,
        max(accounts) over (partition by cohort_month) as largest_size,
        min(months_since_start) over (partition by cohort_month) as first_month_since_start
    from {{ ref('mart_cohort_retention') }}
)

select *
from cohorts
where
    smallest_size <> largest_size
    or first_month_since_start <> 0
    or (months_since_start = 0 and (retained_accounts <> accounts or revenue_retention <> 1))
    or logo_retention < 0
    or logo_retention > 1
