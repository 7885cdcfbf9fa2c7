-- One row per decile of predicted churn probability: on the scoring dates the churn model was not
-- fitted on (from its first held-out date), the mean predicted probability against the observed
-- churn rate within the model's horizon. A calibrated model has the two close in every decile.
-- Definitions: docs block `accuracy__churn_calibration`.

with

churn_model as (
    select
        model_version,
        horizon_days,
        held_out_from
    from {{ ref('int_churn_model_coefficients_pivoted') }}
),

-- outcomes as the backtest counts them, under the scored config version (the one the history holds)
outcomes as (
    select
        account_id,
        scored_on,
        horizon_days,
        has_churned
    from {{ ref('int_score_backtest_outcomes') }}
    where config_version = '{{ var("scoring_config_version") }}'
),

probabilities as (
    select
        account_id,
        date_day,
        churn_probability
    from {{ ref('int_churn_probability_scored') }}
    where churn_probability is not null
),

held_out as (
    select
        churn_model.model_version,
        churn_model.horizon_days,
        outcomes.account_id,
        outcomes.scored_on,
        outcomes.has_churned,
        probabilities.churn_probability
    from outcomes
    inner join churn_model
        on
            outcomes.horizon_days = churn_model.horizon_days
            and outcomes.scored_on >= churn_model.held_out_from
    inner join probabilities
        on
            outcomes.account_id = probabilities.account_id
            and outcomes.scored_on = probabilities.date_day
),

-- deciles of equal size by predicted probability (ties broken by account and date, for a stable split)
ranked as (
    select
        *,
        ntile(10) over (order by churn_probability, account_id, scored_on) as probability_decile
    from held_out
),

aggregated as (
    select
        model_version,
        horizon_days,
        probability_decile,
        min(scored_on) as first_scored_on,
        max(scored_on) as last_scored_on,
        count(*) as account_months, -- noqa: RF04
        sum(has_churned) as churned_account_months,
        avg(churn_probability) as mean_predicted_probability,
        min(churn_probability) as min_predicted_probability,
        max(churn_probability) as max_predicted_probability
    from ranked
    group by
        model_version,
        horizon_days,
        probability_decile
),

final as (
    select
        {{ dbt.concat([
            'model_version', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(probability_decile as ' ~ dbt.type_string() ~ ')'
        ]) }} as churn_calibration_id,
        model_version,
        horizon_days,
        probability_decile,
        first_scored_on,
        last_scored_on,
        cast(account_months as {{ dbt.type_bigint() }}) as account_months,
        cast(churned_account_months as {{ dbt.type_bigint() }}) as churned_account_months,
        cast(mean_predicted_probability as {{ type_double() }}) as mean_predicted_probability,
        {{ ratio('churned_account_months', 'account_months') }} as observed_churn_rate,
        cast(min_predicted_probability as {{ type_double() }}) as min_predicted_probability,
        cast(max_predicted_probability as {{ type_double() }}) as max_predicted_probability
    from aggregated
)

select * from final
