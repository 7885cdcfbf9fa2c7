-- One row per scoring date per horizon per health band: did the band rank churn? Accounts paying on
-- the first day of a month are scored with that day's band; churn is a `churn` movement within the
-- horizon. Definitions: docs block `accuracy__score_backtest`.

{%- set horizons = var('backtest_horizon_days') %}

with

health_daily as (
    select
        account_id,
        date_day,
        health_band
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

scored_accounts as (
    select
        health_daily.account_id,
        health_daily.date_day as scored_on,
        health_daily.health_band
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

horizon_ends as (
    select
        scored_accounts.account_id,
        scored_accounts.scored_on,
        scored_accounts.health_band,
        horizons.horizon_days,
        cast({{ dbt.dateadd('day', 'horizons.horizon_days', 'scored_accounts.scored_on') }} as date) as horizon_end_date
    from scored_accounts
    cross join horizons
),

windows as (
    select horizon_ends.*
    from horizon_ends
    cross join as_of
    where horizon_ends.horizon_end_date <= as_of.as_of_date
),

-- Churned within the horizon: the first month without MRR starts after scoring and by the horizon's end.
outcomes as (
    select
        windows.account_id,
        windows.scored_on,
        windows.health_band,
        windows.horizon_days,
        max(case when churns.account_id is not null then 1 else 0 end) as has_churned
    from windows
    left join churns
        on
            windows.account_id = churns.account_id
            and windows.scored_on < churns.churned_on
            and windows.horizon_end_date >= churns.churned_on
    group by
        windows.account_id,
        windows.scored_on,
        windows.health_band,
        windows.horizon_days
),

aggregated as (
    select
        scored_on,
        horizon_days,
        health_band,
        count(*) as accounts, -- noqa: RF04
        sum(has_churned) as churned_accounts
    from outcomes
    group by
        scored_on,
        horizon_days,
        health_band
),

final as (
    select
        {{ dbt.concat([
            'cast(scored_on as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')', "'_'", 'health_band'
        ]) }} as score_backtest_id,
        scored_on,
        horizon_days,
        health_band,
        accounts,
        cast(churned_accounts as {{ dbt.type_bigint() }}) as churned_accounts,
        cast(churned_accounts as {{ type_double() }}) / accounts as churn_rate
    from aggregated
)

select * from final
