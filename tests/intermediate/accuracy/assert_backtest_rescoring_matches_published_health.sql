-- Claim: the backtest's rescoring of each config version reproduces, for the version that scored the
-- history, the published health_score and health_band of every scored account-month: the side-by-side
-- comparison of versions judges every version by the same formula.

select outcomes.backtest_outcome_id
from {{ ref('int_score_backtest_outcomes') }} as outcomes
inner join {{ ref('fct_account_health_daily') }} as health
    on
        outcomes.account_id = health.account_id
        and outcomes.scored_on = health.date_day
where
    outcomes.config_version = '{{ var("scoring_config_version") }}'
    and (
        outcomes.health_band <> health.health_band
        or coalesce(outcomes.health_score, -1) <> coalesce(health.health_score, -1)
    )
