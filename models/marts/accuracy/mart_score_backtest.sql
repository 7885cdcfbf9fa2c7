-- One row per scoring date per horizon per health band: did the band rank churn? Accounts paying on
-- the first day of a month are scored with that day's band; churn is a `churn` movement within the
-- horizon. Definitions: docs block `accuracy__score_backtest`.

with

outcomes as (
    select
        scored_on,
        horizon_days,
        config_version,
        health_band,
        has_churned
    from {{ ref('int_score_backtest_outcomes') }}
),

aggregated as (
    select
        scored_on,
        horizon_days,
        config_version,
        health_band,
        count(*) as accounts, -- noqa: RF04
        sum(has_churned) as churned_accounts
    from outcomes
    group by
        scored_on,
        horizon_days,
        config_version,
        health_band
),

final as (
    select
        {{ dbt.concat([
            'cast(scored_on as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')', "'_'", 'config_version', "'_'",
            'health_band'
        ]) }} as score_backtest_id,
        scored_on,
        horizon_days,
        config_version,
        health_band,
        accounts,
        cast(churned_accounts as {{ dbt.type_bigint() }}) as churned_accounts,
        cast(churned_accounts as {{ type_double() }}) / accounts as churn_rate
    from aggregated
)

select * from final
