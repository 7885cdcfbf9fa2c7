-- Model-accuracy question: how good is the at-risk flag as a churn warning? Per backtest horizon,
-- over the same population as mart_score_backtest (accounts paying on the first day of a month,
-- scored with that day's health; churn = a `churn` movement after the scoring date and on or
-- before scored_on + horizon; only horizons fully elapsed by the as-of date):
--   precision           churned flagged account-months / flagged account-months
--   recall              churned flagged account-months / churned account-months
--   churn_rate_under_30 churn rate of account-months scored below 30
--   renewal_rate_over_70 of account-months scored 70 or more whose renewal date falls inside the
--                       horizon, the share that did not churn
-- The flag is `health_band = 'at_risk'` (health below var('at_risk_threshold')); CSM overrides are
-- left out so the figures judge the computed score. Insufficient-data days have no score and are
-- left out of every figure except `insufficient_data_share`.

{%- set horizons = var('backtest_horizon_days') %}

with

health_daily as (
    select
        account_id,
        date_day,
        health_score,
        health_band,
        renewal_date
    from {{ ref('fct_account_health_daily') }}
),

movements as (
    select
        account_id,
        month_start,
        mrr,
        movement_type
    from {{ ref('fct_mrr_movements') }}
),

as_of as (
    select max(date_day) as as_of_date
    from health_daily
),

horizons as (
    select horizon_values.horizon_days
    from (
        values {% for horizon in horizons %}({{ horizon }}){% if not loop.last %}, {% endif %}{% endfor %} -- noqa: LT05
    ) as horizon_values (horizon_days)
),

scored as (
    select
        health_daily.account_id,
        health_daily.date_day as scored_on,
        health_daily.health_score,
        health_daily.health_band,
        health_daily.renewal_date,
        horizons.horizon_days,
        cast({{ dbt.dateadd('day', 'horizons.horizon_days', 'health_daily.date_day') }} as date)
            as horizon_end_date
    from health_daily
    inner join movements
        on
            health_daily.account_id = movements.account_id
            and health_daily.date_day = movements.month_start
    cross join horizons
    where movements.mrr > 0
),

outcomes as (
    select
        scored.account_id,
        scored.scored_on,
        scored.horizon_days,
        max(scored.health_score) as health_score,
        max(scored.health_band) as health_band,
        max(
            case
                when scored.renewal_date > scored.scored_on and scored.renewal_date <= scored.horizon_end_date
                    then 1
                else 0
            end
        ) as renews_in_horizon,
        max(case when movements.account_id is not null then 1 else 0 end) as has_churned
    from scored
    cross join as_of
    left join movements
        on
            scored.account_id = movements.account_id
            and movements.movement_type = 'churn'
            and scored.scored_on < movements.month_start
            and scored.horizon_end_date >= movements.month_start
    where scored.horizon_end_date <= as_of.as_of_date
    group by
        scored.account_id,
        scored.scored_on,
        scored.horizon_days
),

summarised as (
    select
        horizon_days,
        count(*) as account_months,
        sum(case when health_band = 'insufficient_data' then 1 else 0 end) as insufficient_data_months,
        sum(case when health_band <> 'insufficient_data' then has_churned else 0 end) as churned_months,
        sum(case when health_band = 'at_risk' then 1 else 0 end) as flagged_months,
        sum(case when health_band = 'at_risk' then has_churned else 0 end) as flagged_churned_months,
        sum(case when health_band <> 'insufficient_data' and health_score < 30 then 1 else 0 end)
            as under_30_months,
        sum(case when health_band <> 'insufficient_data' and health_score < 30 then has_churned else 0 end)
            as under_30_churned_months,
        sum(case when health_band <> 'insufficient_data' and health_score >= 70 then renews_in_horizon else 0 end)
            as over_70_renewals_due,
        sum(
            case
                when health_band <> 'insufficient_data' and health_score >= 70 and renews_in_horizon = 1
                    then 1 - has_churned
                else 0
            end
        ) as over_70_renewed
    from outcomes
    group by horizon_days
)

select
    horizon_days,
    account_months,
    1.0 * insufficient_data_months / nullif(account_months, 0) as insufficient_data_share,
    flagged_months,
    churned_months,
    flagged_churned_months,
    1.0 * flagged_churned_months / nullif(flagged_months, 0) as at_risk_precision,
    1.0 * flagged_churned_months / nullif(churned_months, 0) as at_risk_recall,
    under_30_months,
    1.0 * under_30_churned_months / nullif(under_30_months, 0) as churn_rate_under_30,
    over_70_renewals_due,
    1.0 * over_70_renewed / nullif(over_70_renewals_due, 0) as renewal_rate_over_70
from summarised
order by horizon_days
