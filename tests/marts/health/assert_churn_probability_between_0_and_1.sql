-- Claim: every churn probability published lies in [0, 1] (fct_account_health_daily and dim_accounts),
-- and it is null exactly when the day has insufficient data or no model is configured.
{%- set column = 'churn_probability_' ~ var('churn_model_horizon_days') ~ 'd' %}

select
    'fct_account_health_daily' as model_name,
    account_day_id as row_id
from {{ ref('fct_account_health_daily') }}
where {{ column }} < 0 or {{ column }} > 1

union all

select
    'dim_accounts' as model_name,
    account_id as row_id
from {{ ref('dim_accounts') }}
where {{ column }} < 0 or {{ column }} > 1

union all

select
    'int_churn_probability_scored' as model_name,
    {{ dbt.concat(['account_id', "'|'", dbt.cast('date_day', dbt.type_string())]) }} as row_id
from {{ ref('int_churn_probability_scored') }}
where (churn_probability is null) <> (churn_probability_status <> 'scored')
