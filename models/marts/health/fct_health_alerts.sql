-- One row per alert: the day a health rule started to hold for an account. A daily rule alerts on
-- the first day it holds (not again while it keeps holding), so the table is an alert history.
-- Rules and thresholds (seeds/scoring_config.csv): low_health, health_drop, no_login,
-- no_human_cs_touch (daily); declining_3_weeks, quadrant_move (weekly). Accounts with
-- insufficient data are not alerted on.

with

health_daily as (

    select
        account_id,
        date_day,
        segment,
        arr,
        health_score,
        health_score_delta_30d,
        days_since_active,
        -- never touched: the account's age is the time without a touch
        coalesce(days_since_human_touch, account_age_days) as days_without_human_touch,
        is_insufficient_data
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
        alert_no_cs_touch_days
    from {{ ref('int_scoring_config_pivoted_to_segments') }}

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
        and coalesce(health_daily.health_score_delta_30d < -scoring_config.alert_health_drop_points, false)
            as is_health_drop,
        not health_daily.is_insufficient_data
        and coalesce(health_daily.days_since_active >= scoring_config.alert_no_login_days, false)
            as is_no_login,
        not health_daily.is_insufficient_data
        and coalesce(health_daily.days_without_human_touch >= scoring_config.alert_no_cs_touch_days, false)
            as is_no_human_cs_touch
    from health_daily
    inner join scoring_config
        on health_daily.segment = scoring_config.segment

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

-- three consecutive weekly declines: week w below w-1 below w-2 below w-3
weekly_compared as (

    select
        account_id,
        week_start,
        scored_on,
        health_score,
        lag(health_score, 1) over (partition by account_id order by week_start) as health_score_1w_ago,
        lag(health_score, 2) over (partition by account_id order by week_start) as health_score_2w_ago,
        lag(health_score, 3) over (partition by account_id order by week_start) as health_score_3w_ago
    from quadrants_weekly

),

weekly_declines as (

    select
        *,
        coalesce(
            health_score < health_score_1w_ago
            and health_score_1w_ago < health_score_2w_ago
            and health_score_2w_ago < health_score_3w_ago,
            false
        ) as is_declining_3_weeks
    from weekly_compared

),

weekly_declines_started as (

    select
        *,
        is_declining_3_weeks
        and not coalesce(lag(is_declining_3_weeks) over (partition by account_id order by week_start), false)
            as starts_declining_3_weeks
    from weekly_declines

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
    from quadrant_movements

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
