-- One row per account per day: the probability that the account churns within
-- var('churn_model_horizon_days') days, from its component scores and the churn model of
-- seeds/churn_model_coefficients.csv (fitted by `account-health calibrate`). Null, with the reason
-- in churn_probability_status, on insufficient-data days and when no model is configured.
-- Definitions: docs block `health__churn_probability`.

with

components as (
    select
        account_id,
        date_day,
        insufficient_data_reason,
    {%- for component in churn_model_components() %}
        {{ component }}_score
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ ref('int_health_components_scored') }}
),

churn_model as (
    select * from {{ ref('int_churn_model_coefficients_pivoted') }}
),

scored as (
    select
        components.account_id,
        components.date_day,
        churn_model.model_version as churn_model_version,
        case
            when churn_model.model_version is null then 'no_model'
            when components.insufficient_data_reason is not null then 'insufficient_data'
            else 'scored'
        end as churn_probability_status,
        {{ churn_log_odds('components', 'churn_model') }} as churn_log_odds
    from components
    -- at most one model row: every account-day keeps its row, with nulls when there is no model
    left join churn_model
        on 1 = 1
),

final as (
    select
        account_id,
        date_day,
        churn_model_version,
        churn_probability_status,
        case
            when churn_probability_status = 'scored'
                then {{ logistic('churn_log_odds') }}
        end as churn_probability
    from scored
)

select * from final
