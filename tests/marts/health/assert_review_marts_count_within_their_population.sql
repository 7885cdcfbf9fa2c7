-- Claim: the review marts' counts stay within their population: an alert type's accounts never
-- exceed its alerts, churned accounts never exceed the cohort, and each month's quadrant shares
-- (unknown reasons included) add up to 1. (Alerted accounts within the accounts scored:
-- assert_alerts_fire_only_for_scored_accounts.)
select
    'mart_alerts_monthly' as mart,
    alert_month_id as row_id
from {{ ref('mart_alerts_monthly') }}
where
    alerted_accounts > alerts
    or alerted_account_share < 0

union all

select
    'mart_quadrant_churn_quarterly' as mart,
    quadrant_quarter_id as row_id
from {{ ref('mart_quadrant_churn_quarterly') }}
where
    churned_accounts > accounts
    or churn_rate < 0
    or churn_rate > 1
    or churned_mrr > starting_mrr

union all

select
    'mart_quadrant_distribution_monthly' as mart,
    cast(month_start as {{ dbt.type_string() }}) as row_id
from {{ ref('mart_quadrant_distribution_monthly') }}
group by month_start
having abs(sum(account_share) - 1) > 0.000001
