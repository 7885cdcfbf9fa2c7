-- Model-accuracy question: how much likelier is churn in the at-risk band than overall? Churn lift
-- per health band and horizon over all scoring dates of mart_score_backtest
-- (lift = band churn rate / overall churn rate; above 1 means the band flags churn), per config
-- version (every version scores the same account-months).

with

backtest as (
    select
        horizon_days,
        config_version,
        health_band,
        accounts,
        churned_accounts
    from {{ ref('mart_score_backtest') }}
),

per_band as (
    select
        horizon_days,
        config_version,
        health_band,
        sum(accounts) as scored_accounts,
        sum(churned_accounts) as churned_accounts
    from backtest
    group by
        horizon_days,
        config_version,
        health_band
),

overall as (
    select
        horizon_days,
        config_version,
        1.0 * sum(churned_accounts) / nullif(sum(scored_accounts), 0) as overall_churn_rate
    from per_band
    group by
        horizon_days,
        config_version
)

select
    per_band.horizon_days,
    per_band.config_version,
    per_band.health_band,
    per_band.scored_accounts,
    per_band.churned_accounts,
    1.0 * per_band.churned_accounts / nullif(per_band.scored_accounts, 0) as churn_rate,
    overall.overall_churn_rate,
    (1.0 * per_band.churned_accounts / nullif(per_band.scored_accounts, 0))
    / nullif(overall.overall_churn_rate, 0) as churn_lift
from per_band
inner join overall
    on
        per_band.horizon_days = overall.horizon_days
        and per_band.config_version = overall.config_version
order by
    per_band.horizon_days,
    per_band.config_version,
    per_band.health_band
