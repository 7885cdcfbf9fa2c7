-- One row per account segment: the scoring parameters of the selected config_version, a
-- segment-specific value where seeds/scoring_config.csv has one, else the '*' default.
{%- set parameters = [
    'health_recency_weight', 'health_adoption_weight', 'health_depth_weight',
    'health_breadth_weight', 'health_cs_engagement_weight',
    'usage_recency_weight', 'usage_adoption_weight', 'usage_depth_weight', 'usage_breadth_weight',
    'relationship_nps_weight', 'relationship_support_weight',
    'relationship_cs_engagement_weight', 'relationship_sentiment_weight',
    'recency_half_life_days', 'depth_target_events_per_user_week', 'breadth_target_ratio',
    'cs_touch_half_life_days', 'cs_touch_target_90d', 'cs_recency_share',
    'nps_trend_points_per_nps_point', 'support_ticket_penalty',
    'open_ticket_age_penalty_per_day', 'healthy_threshold', 'quadrant_usage_threshold',
    'quadrant_relationship_threshold', 'min_account_age_days', 'source_stale_days',
    'min_health_weight_with_data',
    'alert_low_health_threshold', 'alert_health_drop_points', 'alert_no_login_days',
    'alert_no_cs_touch_days', 'alert_decline_min_points', 'at_risk_relationship_decline',
    'at_risk_relationship_drop_points', 'signal_seat_utilisation_ratio', 'signal_feature_gate_hits_30d',
    'signal_power_user_share', 'signal_power_user_min_seats', 'signal_quota_events_30d',
    'signal_no_contact_days', 'priority_health_weight', 'priority_arr_weight',
    'priority_renewal_weight',
    'embedded_usage_threshold', 'deteriorating_health_drop_points', 'high_arr_percentile',
] %}
{#- Parameters whose value is a word (depth_method: absolute | segment_percentile), kept as text. #}
{%- set text_parameters = ['depth_method'] %}
{#- The lists above are the config schema (parameter names), not business values: those live in the seed. #}

with

scoring_config as (

    select
        config_version,
        segment,
        parameter_name,
        -- text: a word parameter makes the seed column text; numbers are cast in the pivot below
        trim({{ dbt.cast('parameter_value', dbt.type_string()) }}) as parameter_value
    from {{ ref('scoring_config') }}
    where config_version = '{{ var("scoring_config_version") }}'

),

accounts as (

    select segment from {{ ref('stg_crm__accounts') }}

),

-- every segment that accounts use, plus '*' for accounts without one
segments as (

    select segment from accounts
    where segment is not null
    union  -- set semantics: each segment once
    select '*' as segment

),

defaults as (

    select
        parameter_name,
        parameter_value
    from scoring_config
    where segment = '*'

),

overrides as (

    select
        segment,
        parameter_name,
        parameter_value
    from scoring_config
    where segment <> '*'

),

resolved as (

    select
        segments.segment,
        defaults.parameter_name,
        coalesce(overrides.parameter_value, defaults.parameter_value) as parameter_value
    from segments
    cross join defaults
    left join overrides
        on
            segments.segment = overrides.segment
            and defaults.parameter_name = overrides.parameter_name

),

final as (

    select
        segment,
        '{{ var("scoring_config_version") }}' as config_version,
    {%- for parameter in parameters + text_parameters %}
        max(case when parameter_name = '{{ parameter }}' then parameter_value end) as {{ parameter }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from resolved
    group by segment

),

-- numbers as doubles (as the seed's numeric column was read before it held words; a decimal would
-- give Spark six-digit quotients downstream); the word parameters stay text
typed as (

    select
        segment,
        config_version,
    {%- for parameter in parameters + text_parameters %}
        {{ dbt.cast(parameter, type_double()) if parameter in parameters else parameter }} as {{ parameter }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from final

)

select * from typed
