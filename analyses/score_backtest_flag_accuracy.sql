-- Model-accuracy question: how good is the at-risk flag as a churn warning, over all scoring dates?
-- Pools `mart_score_backtest_accuracy` (one row per scoring date, horizon and config version) per
-- horizon and config version (versions side by side on the same dates): sums the counts, then
-- divides (a mean of monthly rates would weigh a small month like a large one).
--   precision            churned flagged account-months / flagged account-months
--   recall               churned flagged account-months / churned account-months
--   churn_rate_under_30  churn rate of account-months scored below 30
--   renewal_rate_over_70 of account-months scored 70 or more whose renewal date falls inside the
--                        horizon, the share that did not churn
-- The flag is `health_band = 'at_risk'`; CSM overrides are left out so the figures judge the
-- computed score. Insufficient-data days have no score: they count only in insufficient_data_share.

with

accuracy as (
    select *
    from {{ ref('mart_score_backtest_accuracy') }}
),

pooled as (
    select
        horizon_days,
        config_version,
        sum(scored_accounts) as account_months,
        sum(insufficient_data_accounts) as insufficient_data_months,
        sum(churned_accounts) as churned_months,
        sum(flagged_accounts) as flagged_months,
        sum(flagged_churned_accounts) as flagged_churned_months,
        sum(under_30_accounts) as under_30_months,
        sum(under_30_churned_accounts) as under_30_churned_months,
        sum(over_70_renewals_due) as over_70_renewals_due,
        sum(over_70_renewed) as over_70_renewed
    from accuracy
    group by
        horizon_days,
        config_version
)

select
    horizon_days,
    config_version,
    account_months,
    {{ ratio('insufficient_data_months', 'account_months') }} as insufficient_data_share,
    flagged_months,
    churned_months,
    flagged_churned_months,
    {{ ratio('flagged_churned_months', 'flagged_months') }} as at_risk_precision,
    {{ ratio('flagged_churned_months', 'churned_months') }} as at_risk_recall,
    under_30_months,
    {{ ratio('under_30_churned_months', 'under_30_months') }} as churn_rate_under_30,
    over_70_renewals_due,
    {{ ratio('over_70_renewed', 'over_70_renewals_due') }} as renewal_rate_over_70
from pooled
order by
    horizon_days,
    config_version
