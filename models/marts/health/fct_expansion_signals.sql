-- One row per expansion signal: the day a signal rule started to hold for an account (not again
-- while it keeps holding). Rules and thresholds (seeds/scoring_config.csv):
-- seat_utilisation (active_user_ratio_30d), feature_gate_hits (paywall hits in 30 days),
-- power_user_concentration (one user's share of events, 30-day average of active days, in an
-- account with enough seats), quota_threshold (quota threshold events in 30 days),
-- healthy_no_contact (healthy account without a human CS touch for long; only when the company
-- sends CS activities).
-- signal_value is the measured value that tripped the rule. Insufficient-data days never signal.

with

-- A company that sends no CS activities has not shown that nobody contacted its accounts:
-- days without a touch are then unknown and healthy_no_contact does not signal.
cs_input as (

    select count(*) > 0 as has_cs_activities
    from {{ ref('stg_crm__cs_activities') }}

),

health_daily as (

    select
        account_id,
        date_day,
        segment,
        health_score,
        licensed_seats,
        active_user_ratio_30d,
        feature_gate_hits_30d,
        quota_threshold_events_30d,
        top_user_event_share_30d,
        case
            when (select cs_input.has_cs_activities from cs_input)
                then coalesce(days_since_human_touch, account_age_days)
        end as days_without_human_touch,
        is_insufficient_data
    from {{ ref('fct_account_health_daily') }}

),

scoring_config as (

    select
        segment,
        healthy_threshold,
        signal_seat_utilisation_ratio,
        signal_feature_gate_hits_30d,
        signal_power_user_share,
        signal_power_user_min_seats,
        signal_quota_events_30d,
        signal_no_contact_days
    from {{ ref('int_scoring_config_pivoted_to_segments') }}

),

-- one row per account-day and signal type with the measured value and whether the rule holds
measured as (

    {%- set rules = [
        ('seat_utilisation', 'active_user_ratio_30d',
            'active_user_ratio_30d >= signal_seat_utilisation_ratio'),
        ('feature_gate_hits', 'feature_gate_hits_30d',
            'feature_gate_hits_30d >= signal_feature_gate_hits_30d'),
        ('power_user_concentration', 'top_user_event_share_30d',
            'top_user_event_share_30d >= signal_power_user_share and licensed_seats >= signal_power_user_min_seats'),
        ('quota_threshold', 'quota_threshold_events_30d',
            'quota_threshold_events_30d >= signal_quota_events_30d'),
        ('healthy_no_contact', 'days_without_human_touch',
            'health_score >= healthy_threshold and days_without_human_touch >= signal_no_contact_days'),
    ] %}
    {%- for signal_type, value_column, condition in rules %}
        select
            health_daily.account_id,
            health_daily.date_day,
            '{{ signal_type }}' as signal_type,
            cast(health_daily.{{ value_column }} as {{ type_money() }}) as signal_value,
            not health_daily.is_insufficient_data and coalesce({{ condition }}, false) as is_signaled
        from health_daily
        inner join scoring_config
            on health_daily.segment = scoring_config.segment
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

started as (

    select
        *,
        is_signaled
        and not coalesce(
            lag(is_signaled) over (partition by account_id, signal_type order by date_day), false
        ) as is_start
    from measured

),

final as (

    select
        {{ dbt.concat([
            "account_id", "'|'", "signal_type", "'|'", dbt.cast("date_day", dbt.type_string())
        ]) }} as signal_id,
        account_id,
        date_day as signaled_on,
        signal_type,
        signal_value
    from started
    where is_start

)

select * from final
