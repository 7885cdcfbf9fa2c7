-- One row per scored account-month per churn horizon per config version: the account's health on
-- the scoring date under each config version of seeds/scoring_config.csv, and what happened within
-- the horizon (churned? renewal due?). Both backtest marts aggregate these rows.
-- Definitions: docs block `accuracy__score_backtest`.

{%- set horizons = var('backtest_horizon_days') %}
{%- set components = health_score_components() %}
{%- set parameters = [] %}
{%- for component in components %}{% do parameters.append('health_' ~ component ~ '_weight') %}{% endfor %}
{%- do parameters.append('healthy_threshold') %}
{%- set weighted_sum = [] %}
{%- set weight_with_data = [] %}
{%- for component in components %}
    {%- do weighted_sum.append('coalesce(health_' ~ component ~ '_weight * ' ~ component ~ '_score, 0)') %}
    {%- do weight_with_data.append('case when ' ~ component ~ '_score is not null then health_'
        ~ component ~ '_weight else 0 end') %}
{%- endfor %}

with

health_daily as (
    select
        account_id,
        date_day,
        segment,
        health_band,
        renewal_date,
    {%- for component in components %}
        {{ component }}_score
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ ref('fct_account_health_daily') }}
),

-- Every config version's health weights and healthy threshold, per segment ('*' = the default).
config_parameters as (
    select
        config_version,
        segment,
    {%- for parameter in parameters %}
        max(
            case when parameter_name = '{{ parameter }}' then cast(parameter_value as {{ dbt.type_numeric() }}) end
        ) as {{ parameter }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ ref('scoring_config') }}
    group by
        config_version,
        segment
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

-- Scored: accounts paying on the first day of a month, with that day's components.
scored_days as (
    select health_daily.*
    from health_daily
    inner join movements
        on
            health_daily.account_id = movements.account_id
            and health_daily.date_day = movements.month_start
    where movements.mrr > 0
),

-- Each scored day under each config version: the version's segment value of a parameter, else its
-- '*' default (as int_scoring_config_pivoted_to_segments resolves the selected version).
versioned as (
    select
        scored_days.*,
        default_parameters.config_version,
    {%- for parameter in parameters %}
        coalesce(segment_parameters.{{ parameter }}, default_parameters.{{ parameter }}) as {{ parameter }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from scored_days
    inner join config_parameters as default_parameters
        on default_parameters.segment = '*'
    left join config_parameters as segment_parameters
        on
            default_parameters.config_version = segment_parameters.config_version
            and scored_days.segment = segment_parameters.segment
),

-- The health composite under each version's weights, as int_health_components_scored computes it
-- (a component with no data drops out); the band as fct_account_health_daily assigns it. The
-- components and insufficient-data days are those of the scored version: versions that differ in
-- weights and thresholds (what `account-health calibrate --write` adds) compare exactly.
rescored as (
    select
        account_id,
        date_day as scored_on,
        renewal_date,
        config_version,
        health_band as scored_band,
        healthy_threshold,
        {{ round_score('(' ~ weighted_sum | join(' + ') ~ ') / nullif(' ~ weight_with_data | join(' + ') ~ ', 0)') }}
            as health_score
    from versioned
),

scored_accounts as (
    select
        account_id,
        scored_on,
        renewal_date,
        config_version,
        health_score,
        case
            when scored_band = 'insufficient_data' then 'insufficient_data'
            when health_score < {{ var('at_risk_threshold') }} then 'at_risk'
            when health_score >= healthy_threshold then 'healthy'
            else 'neutral'
        end as health_band
    from rescored
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
        scored_accounts.config_version,
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
        elapsed_windows.config_version,
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
        elapsed_windows.horizon_days,
        elapsed_windows.config_version
),

final as (
    select
        {{ dbt.concat([
            'account_id', "'_'",
            'cast(scored_on as ' ~ dbt.type_string() ~ ')', "'_'",
            'cast(horizon_days as ' ~ dbt.type_string() ~ ')', "'_'", 'config_version'
        ]) }} as backtest_outcome_id,
        account_id,
        scored_on,
        horizon_days,
        config_version,
        health_score,
        health_band,
        renewal_due_in_horizon,
        has_churned
    from outcomes
)

select * from final
