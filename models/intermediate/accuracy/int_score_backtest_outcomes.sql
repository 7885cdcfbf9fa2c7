-- One row per scored account-month per churn horizon: the account's health on the scoring date and
-- what happened within the horizon (churned? renewal due?). Both backtest marts aggregate these rows.
-- Definitions: docs block `accuracy__score_backtest`.

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

-- The health history runs to the as-of date: only horizons that have fully elapsed by then count.
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

-- Scored: accounts paying on the first day of a month, with that day's health.
scored_accounts as (
    select
        health_daily.account_id,
        health_daily.date_day as scored_on,
        health_daily.health_score,
        health_daily.health_band,
        health_daily.renewal_date
    from health_daily
    inner join movements
        on
            health_daily.account_id = movements.account_id
            and health_daily.date_day = movements.month_start
    where movements.mrr > 0
),

churns as (
    select
        account_id,
        month_start as churned_on
    from movements
    where movement_type = 'churn'
),

windows as (
    select
        scored_accounts.account_id,
        scored_accounts.scored_on,
        scored_accounts.health_score,
        scored_accounts.health_band,
        scored_accounts.renewal_date,
        horizons.horizon_days,
        cast({{ dbt.dateadd('day', 'horizons.horizon_days', 'scored_accounts.scored_on') }} as date)
            as horizon_end_date
    from scored_accounts
    cross join horizons
),

elapsed_windows as (
    select windows.*
    from windows
    cross join as_of
    where windows.horizon_end_date <= as_of.as_of_date
),

-- Churned within the horizon: the first month without MRR starts after scoring and by the horizon's end.
outcomes as (
    select
        elapsed_windows.account_id,
        elapsed_windows.scored_on,
        elapsed_windows.horizon_days,
        max(elapsed_windows.health_score) as health_score,
        max(elapsed_windows.health_band) as health_band,
        max(
            case
                when
                    elapsed_windows.renewal_date > elapsed_windows.scored_on
                    and elapsed_windows.renewal_date <= elapsed_windows.horizon_end_date
                    then 1
                else 0
            end
        ) as renewal_due_in_horizon,
        max(case when churns.account_id is not null then 1 else 0 end) as has_churned
    from elapsed_windows
    left join churns
        on
            elapsed_windows.account_id = churns.account_id
            and elapsed_windows.scored_on < churns.churned_on
            and elapsed_windows.horizon_end_date >= churns.churned_on
    group by
        elapsed_windows.account_id,
        elapsed_windows.scored_on,
        elapsed_windows.horizon_days
),

final as (
    select
        {{ dbt.concat([
            'account_id', "'_'",
            'cast(scored_on as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')'
        ]) }} as backtest_outcome_id,
        account_id,
        scored_on,
        horizon_days,
        health_score,
        health_band,
        renewal_due_in_horizon,
        has_churned
    from outcomes
)

select * from final
