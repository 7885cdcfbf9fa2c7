-- Claim: the issue-5 shares built on the revenue history are shares - churn, adoption and activation
-- rates lie in 0-1, and no numerator exceeds its population.

select
    'mart_score_backtest' as model_name,
    score_backtest_id as row_id
from {{ ref('mart_score_backtest') }}
where churned_accounts > accounts or churn_rate < 0 or churn_rate > 1

union all

select
    'mart_feature_adoption' as model_name,
    feature_adoption_id as row_id
from {{ ref('mart_feature_adoption') }}
where adopting_accounts > accounts or adoption_rate < 0 or adoption_rate > 1

union all

select
    'mart_activation' as model_name,
    cast(signup_month as {{ dbt.type_string() }}) as row_id
from {{ ref('mart_activation') }}
where
    activated_accounts > accounts
    or activated_within_30d > activated_accounts
    or activation_rate < 0 or activation_rate > 1
    or activation_rate_30d > activation_rate
