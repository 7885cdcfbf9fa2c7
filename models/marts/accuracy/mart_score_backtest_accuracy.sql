-- One row per scoring date per horizon: how good the at-risk flag and the score's extremes are as
-- churn and renewal predictions. Counts are kept beside each rate so a reader can pool scoring dates
-- (sum the counts, then divide). Definitions: docs block `accuracy__score_backtest_accuracy`.

with

outcomes as (
    select
        scored_on,
        horizon_days,
        config_version,
        health_score,
        health_band,
        renewal_due_in_horizon,
        has_churned,
        case when health_band <> 'insufficient_data' then 1 else 0 end as is_judged,
        case when health_band = 'at_risk' then 1 else 0 end as is_flagged
    from {{ ref('int_score_backtest_outcomes') }}
),

counted as (
    select
        scored_on,
        horizon_days,
        config_version,
        count(*) as scored_accounts,
        sum(1 - is_judged) as insufficient_data_accounts,
        sum(is_judged * has_churned) as churned_accounts,
        sum(is_flagged) as flagged_accounts,
        sum(is_flagged * has_churned) as flagged_churned_accounts,
        sum(case when is_judged = 1 and health_score < 30 then 1 else 0 end) as under_30_accounts,
        sum(case when is_judged = 1 and health_score < 30 then has_churned else 0 end)
            as under_30_churned_accounts,
        sum(case when is_judged = 1 and health_score >= 70 then renewal_due_in_horizon else 0 end)
            as over_70_renewals_due,
        sum(
            case
                when is_judged = 1 and health_score >= 70 and renewal_due_in_horizon = 1
                    then 1 - has_churned
                else 0
            end
        ) as over_70_renewed
    from outcomes
    group by
        scored_on,
        horizon_days,
        config_version
),

final as (
    select
        {{ dbt.concat([
            'cast(scored_on as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')', "'_'", 'config_version'
        ]) }} as score_backtest_accuracy_id,
        scored_on,
        horizon_days,
        config_version,
        cast(scored_accounts as {{ dbt.type_bigint() }}) as scored_accounts,
        cast(insufficient_data_accounts as {{ dbt.type_bigint() }}) as insufficient_data_accounts,
        cast(churned_accounts as {{ dbt.type_bigint() }}) as churned_accounts,
        cast(flagged_accounts as {{ dbt.type_bigint() }}) as flagged_accounts,
        cast(flagged_churned_accounts as {{ dbt.type_bigint() }}) as flagged_churned_accounts,
        {{ ratio('flagged_churned_accounts', 'flagged_accounts') }} as at_risk_precision,
        {{ ratio('flagged_churned_accounts', 'churned_accounts') }} as at_risk_recall,
        cast(under_30_accounts as {{ dbt.type_bigint() }}) as under_30_accounts,
        cast(under_30_churned_accounts as {{ dbt.type_bigint() }}) as under_30_churned_accounts,
        {{ ratio('under_30_churned_accounts', 'under_30_accounts') }} as churn_rate_under_30,
        cast(over_70_renewals_due as {{ dbt.type_bigint() }}) as over_70_renewals_due,
        cast(over_70_renewed as {{ dbt.type_bigint() }}) as over_70_renewed,
        {{ ratio('over_70_renewed', 'over_70_renewals_due') }} as renewal_rate_over_70
    from counted
)

select * from final
