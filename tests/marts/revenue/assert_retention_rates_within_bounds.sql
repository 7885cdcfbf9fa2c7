-- Claim: gross retention and churn rates are shares (0-1), net retention is never negative, and
-- gross retention never exceeds net retention.

select
    month_start,
    nrr,
    grr,
    logo_churn_rate,
    revenue_churn_rate,
    nrr_ttm,
    grr_ttm,
    logo_churn_rate_ttm,
    revenue_churn_rate_ttm
from {{ ref('mart_revenue_retention') }}
where
    grr < 0 or grr > 1
    or nrr < 0 or grr > nrr + 0.000001
    or grr_ttm < 0 or grr_ttm > 1
    or nrr_ttm < 0 or grr_ttm > nrr_ttm + 0.000001
    or logo_churn_rate < 0 or logo_churn_rate > 1
    or revenue_churn_rate < 0 or revenue_churn_rate > 1
    or logo_churn_rate_ttm < 0 or logo_churn_rate_ttm > 1
    or revenue_churn_rate_ttm < 0 or revenue_churn_rate_ttm > 1
