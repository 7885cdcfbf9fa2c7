-- One row per alert: the day a health rule started to hold for an account. A daily rule alerts on
-- the first day it holds (not again while it keeps holding), so the table is an alert history.
-- Rules and thresholds (seeds/scoring_config.csv): low_health, health_drop, no_login,
-- no_human_cs_touch (daily; only when the company sends CS activities); declining_3_weeks,
-- quadrant_move (weekly). Days and weeks with insufficient data are not alerted on. One cause, one
-- alert: inactivity is no_login's, so a health drop or a three-week decline counts only the points
-- that recency did not lose (DECISIONS.md).

with

health_daily as (

    select
        account_id,
        date_day,
        segment,
        arr,
        health_score,
        health_score_delta_30d,
        recency_contribution_30d,
        recency_health_points,
        days_since_active,
        -- never touched: the account's age is the time without a touch
        coalesce(days_since_human_touch, account_age_days) as days_without_human_touch,
        is_insufficient_data,
        -- too few signals leaves the health unjudged, not the activity facts: no_login and
        -- no_human_cs_touch still alert then
        is_insufficient_data and coalesce(insufficient_data_reason, '') <> 'too_few_signals'
            as is_activity_unjudged
    from {{ ref('fct_account_health_daily') }}

),

quadrants_weekly as (

    select
        account_id,
        week_start,
        scored_on,
        health_score
    from {{ ref('fct_account_quadrants_weekly') }}

),

quadrant_movements as (

    select
        account_id,
        week_start,
        scored_on,
        from_quadrant,
        to_quadrant
    from {{ ref('fct_quadrant_movements') }}
    where needs_attention

),

scoring_config as (

    select
        segment,
        alert_low_health_threshold,
        alert_health_drop_points,
        alert_no_login_days,
        alert_no_cs_touch_days,
        alert_decline_min_points
    from {{ ref('int_scoring_config_pivoted_to_segments') }}

),

-- A company that sends no CS activities at all has not shown that nobody touched its accounts:
-- no_human_cs_touch is then unknown, not a fact about every account.
cs_input as (

    select count(*) > 0 as has_cs_activities
    from {{ ref('stg_crm__cs_activities') }}

),

daily_rules as (

    select
        health_daily.account_id,
        health_daily.date_day,
        health_daily.health_score,
        health_daily.health_score_delta_30d,
        health_daily.days_since_active,
        health_daily.days_without_human_touch,
        scoring_config.alert_low_health_threshold,
        scoring_config.alert_health_drop_points,
        scoring_config.alert_no_login_days,
        scoring_config.alert_no_cs_touch_days,
        not health_daily.is_insufficient_data
        and coalesce(health_daily.health_score < scoring_config.alert_low_health_threshold, false)
            as is_low_health,
        not health_daily.is_insufficient_data
        and coalesce(
            health_daily.health_score_delta_30d < -scoring_config.alert_health_drop_points
            -- and as much without recency's part: a drop that is only inactivity is no_login's
            and health_daily.health_score_delta_30d - coalesce(health_daily.recency_contribution_30d, 0)
            < -scoring_config.alert_health_drop_points,
            false
        ) as is_health_drop,
        not health_daily.is_activity_unjudged
        and coalesce(health_daily.days_since_active >= scoring_config.alert_no_login_days, false)
            as is_no_login,
        not health_daily.is_activity_unjudged
        and cs_input.has_cs_activities
        and coalesce(health_daily.days_without_human_touch >= scoring_config.alert_no_cs_touch_days, false)
            as is_no_human_cs_touch
    from health_daily
    inner join scoring_config
        on health_daily.segment = scoring_config.segment
    cross join cs_input

),

-- a rule alerts on the day it starts holding (the spine is daily, so lag() is yesterday)
daily_rules_started as (

    select
        *,
        is_low_health
        and not coalesce(lag(is_low_health) over (partition by account_id order by date_day), false)
            as starts_low_health,
        is_health_drop
        and not coalesce(lag(is_health_drop) over (partition by account_id order by date_day), false)
            as starts_health_drop,
        is_no_login
        and not coalesce(lag(is_no_login) over (partition by account_id order by date_day), false)
            as starts_no_login,
        is_no_human_cs_touch
        and not coalesce(lag(is_no_human_cs_touch) over (partition by account_id order by date_day), false)
            as starts_no_human_cs_touch
    from daily_rules

),

-- The weekly rules read the week's scored day: its band (an insufficient-data week is not judged)
-- and recency's points in health_score (a decline that is only inactivity is no_login's to tell).
weekly as (

    select
        quadrants_weekly.account_id,
        quadrants_weekly.week_start,
        quadrants_weekly.scored_on,
        quadrants_weekly.health_score,
        quadrants_weekly.health_score - coalesce(health_daily.recency_health_points, 0)
            as health_score_without_recency,
        coalesce(health_daily.is_insufficient_data, false) as is_insufficient_data,
        health_daily.segment
    from quadrants_weekly
    left join health_daily
        on
            quadrants_weekly.account_id = health_daily.account_id
            and quadrants_weekly.scored_on = health_daily.date_day

),

-- three consecutive weekly declines: week w below w-1 below w-2 below w-3
weekly_compared as (

    select
        account_id,
        week_start,
        scored_on,
        segment,
        health_score,
        is_insufficient_data,
        lag(is_insufficient_data) over (partition by account_id order by week_start)
            as is_insufficient_data_1w_ago,
        -- any of the four weeks insufficient (a missing earlier week is caught by the null lags below)
        max(case when is_insufficient_data then 1 else 0 end) over (
            partition by account_id order by week_start rows between 3 preceding and current row
        ) as insufficient_weeks_4w,
        lag(health_score, 1) over (partition by account_id order by week_start) as health_score_1w_ago,
        lag(health_score, 2) over (partition by account_id order by week_start) as health_score_2w_ago,
        lag(health_score, 3) over (partition by account_id order by week_start) as health_score_3w_ago,
        health_score_without_recency,
        lag(health_score_without_recency, 3) over (partition by account_id order by week_start)
            as health_score_without_recency_3w_ago
    from weekly

),

weekly_declines as (

    select
        weekly_compared.*,
        coalesce(
            weekly_compared.insufficient_weeks_4w = 0
            and weekly_compared.health_score < weekly_compared.health_score_1w_ago
            and weekly_compared.health_score_1w_ago < weekly_compared.health_score_2w_ago
            and weekly_compared.health_score_2w_ago < weekly_compared.health_score_3w_ago
            -- enough points in all, and enough without recency's: not noise, not inactivity alone
            and weekly_compared.health_score_3w_ago - weekly_compared.health_score
            >= scoring_config.alert_decline_min_points
            and weekly_compared.health_score_without_recency_3w_ago - weekly_compared.health_score_without_recency
            >= scoring_config.alert_decline_min_points,
            false
        ) as is_declining_3_weeks
    from weekly_compared
    left join scoring_config
        on coalesce(weekly_compared.segment, '*') = scoring_config.segment

),

weekly_declines_started as (

    select
        *,
        is_declining_3_weeks
        and not coalesce(lag(is_declining_3_weeks) over (partition by account_id order by week_start), false)
            as starts_declining_3_weeks
    from weekly_declines

),

-- a quadrant move is judged only between two judged weeks
quadrant_movements_judged as (

    select quadrant_movements.*
    from quadrant_movements
    inner join weekly_compared
        on
            quadrant_movements.account_id = weekly_compared.account_id
            and quadrant_movements.week_start = weekly_compared.week_start
    where
        not weekly_compared.is_insufficient_data
        and not coalesce(weekly_compared.is_insufficient_data_1w_ago, false)

),

alerts as (

    select
        account_id,
        date_day as alerted_on,
        'low_health' as alert_type,
        'high' as severity,
        'Health score ' || {{ dbt.cast("health_score", dbt.type_string()) }}
        || ' fell below '
        || {{ dbt.cast(dbt.cast("alert_low_health_threshold", dbt.type_int()), dbt.type_string()) }} as message
    from daily_rules_started
    where starts_low_health

    union all

    select
        account_id,
        date_day as alerted_on,
        'health_drop' as alert_type,
        'medium' as severity,
        'Health score dropped ' || {{ dbt.cast("-health_score_delta_30d", dbt.type_string()) }}
        || ' points in 30 days (to ' || {{ dbt.cast("health_score", dbt.type_string()) }} || ')' as message
    from daily_rules_started
    where starts_health_drop

    union all

    select
        account_id,
        date_day as alerted_on,
        'no_login' as alert_type,
        'medium' as severity,
        'No product activity for ' || {{ dbt.cast("days_since_active", dbt.type_string()) }} || ' days' as message
    from daily_rules_started
    where starts_no_login

    union all

    select
        account_id,
        date_day as alerted_on,
        'no_human_cs_touch' as alert_type,
        'low' as severity,
        'No human CS touch for ' || {{ dbt.cast("days_without_human_touch", dbt.type_string()) }}
        || ' days' as message
    from daily_rules_started
    where starts_no_human_cs_touch

    union all

    select
        account_id,
        scored_on as alerted_on,
        'declining_3_weeks' as alert_type,
        'medium' as severity,
        'Health score declined three weeks in a row: '
        || {{ dbt.cast("health_score_3w_ago", dbt.type_string()) }} || ' -> '
        || {{ dbt.cast("health_score", dbt.type_string()) }} as message
    from weekly_declines_started
    where starts_declining_3_weeks

    union all

    select
        account_id,
        scored_on as alerted_on,
        'quadrant_move' as alert_type,
        case when to_quadrant = 'Churn Risk' then 'high' else 'medium' end as severity,
        'Moved from ' || from_quadrant || ' to ' || to_quadrant as message
    from quadrant_movements_judged

),

final as (

    select
        {{ dbt.concat([
            "alerts.account_id", "'|'", "alerts.alert_type", "'|'",
            dbt.cast("alerts.alerted_on", dbt.type_string())
        ]) }} as alert_id,
        alerts.account_id,
        alerts.alerted_on,
        alerts.alert_type,
        alerts.severity,
        coalesce(health_daily.arr, 0) as arr,
        alerts.message
    from alerts
    left join health_daily
        on
            alerts.account_id = health_daily.account_id
            and alerts.alerted_on = health_daily.date_day

)

select * from final
