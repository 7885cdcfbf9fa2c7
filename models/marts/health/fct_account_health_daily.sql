-- One row per account per day: the component scores, composites, band and quadrant, the CSM
-- override in force beside them (never replacing them), and the explanation of the 30-day move.
-- Incremental by day (issue 9; macros/cross_db/day_grain_incremental.sql): input_fingerprint is a
-- fingerprint of a row's inputs (the components row's output_fingerprint, the override in force,
-- ARR, renewal date, subscription status, var('at_risk_threshold')); a run replaces the days from the
-- first account-day whose fingerprint changed on, re-reading the 30 days before it for the 30-day
-- move. A table on Spark (no delete or merge).
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy=day_grain_incremental_strategy(),
        unique_key='account_day_id',
        on_schema_change='append_new_columns',
    )
}}

with

all_components as (

    select * from {{ ref('int_health_components_scored') }}

),

all_overrides as (

    select * from {{ ref('int_health_overrides_resolved_to_account_days') }}

),

churn_probabilities as (

    select
        account_id,
        date_day,
        churn_probability
    from {{ ref('int_churn_probability_scored') }}

),

all_accounts_daily as (

    select
        account_id,
        date_day,
        arr,
        renewal_date,
        subscription_status
    from {{ ref('int_accounts_daily') }}

),

-- Every account-day with its inputs: the ARR, renewal and status of the day and the override in
-- force (null where none). The fingerprint reads every day, the re-read stretch the days from its
-- start, so each account-day's inputs are joined once.
day_inputs as (

    select
        all_components.*,
        all_accounts_daily.arr,
        all_accounts_daily.renewal_date,
        all_accounts_daily.subscription_status,
        all_overrides.override_id,
        all_overrides.override_quadrant,
        all_overrides.override_score,
        all_overrides.override_note,
        all_overrides.override_author,
        all_overrides.override_expires_at,
        all_overrides.override_id is not null as has_override,
        churn_probabilities.churn_probability,
        coalesce(all_overrides.is_override_at_risk, false) as is_override_at_risk,
        -- the summed health weights of the components with data: health_score's denominator
        nullif(
            case when all_components.recency_score is not null then all_components.health_recency_weight else 0 end
            + case when all_components.adoption_score is not null then all_components.health_adoption_weight else 0 end
            + case when all_components.depth_score is not null then all_components.health_depth_weight else 0 end
            + case when all_components.breadth_score is not null then all_components.health_breadth_weight else 0 end
            + case
                when all_components.cs_engagement_score is not null then all_components.health_cs_engagement_weight
                else 0
            end,
            0
        ) as health_weight_with_data,
        -- all_components.* brings the components' own fingerprints: this one is the mart row's
        {{ day_grain_fingerprint([
            'all_components.output_fingerprint', 'all_overrides.override_id',
            'all_overrides.override_quadrant', 'all_overrides.override_score', 'all_overrides.override_note',
            'all_overrides.override_author', 'all_overrides.override_expires_at',
            'all_accounts_daily.arr', 'all_accounts_daily.renewal_date',
            'all_accounts_daily.subscription_status', "'" ~ var('at_risk_threshold') ~ "'",
            'churn_probabilities.churn_probability',
        ]) }} as mart_input_fingerprint
    from all_components
    left join all_accounts_daily
        on
            all_components.account_id = all_accounts_daily.account_id
            and all_components.date_day = all_accounts_daily.date_day
    left join all_overrides
        on
            all_components.account_id = all_overrides.account_id
            and all_components.date_day = all_overrides.date_day
    left join churn_probabilities
        on
            all_components.account_id = churn_probabilities.account_id
            and all_components.date_day = churn_probabilities.date_day

),

-- (the fingerprints are compared in an incremental run only)
reprocess_window as (

    {{ day_grain_reprocess_window(
        '(select account_id, date_day, mart_input_fingerprint as input_fingerprint from day_inputs)'
    ) }}

),

-- The re-read stretch: the replaced days and the 30 days before them (the 30-day move).
banded as (

    select
        day_inputs.*,
        case
            when day_inputs.insufficient_data_reason is not null then 'insufficient_data'
            when day_inputs.health_score < {{ var('at_risk_threshold') }} then 'at_risk'
            when day_inputs.health_score >= day_inputs.healthy_threshold then 'healthy'
            else 'neutral'
        end as health_band,
        -- each component's points in health_score: weight x score over the weights of the components
        -- with data that day (0 without data), so the five always add up to health_score
        coalesce(
            day_inputs.health_recency_weight * day_inputs.recency_score / day_inputs.health_weight_with_data, 0
        ) as recency_health_points,
        coalesce(
            day_inputs.health_adoption_weight * day_inputs.adoption_score / day_inputs.health_weight_with_data, 0
        ) as adoption_health_points,
        coalesce(
            day_inputs.health_depth_weight * day_inputs.depth_score / day_inputs.health_weight_with_data, 0
        ) as depth_health_points,
        coalesce(
            day_inputs.health_breadth_weight * day_inputs.breadth_score / day_inputs.health_weight_with_data, 0
        ) as breadth_health_points,
        coalesce(
            day_inputs.health_cs_engagement_weight * day_inputs.cs_engagement_score
            / day_inputs.health_weight_with_data,
            0
        ) as cs_engagement_health_points
    from day_inputs
    cross join reprocess_window
    where day_inputs.date_day >= {{ dbt.dateadd('day', -30, 'reprocess_window.reprocess_from_date') }}

),

-- the same account 30 days earlier, to explain the move component by component
compared as (

    select
        today.*,
        today.health_score - earlier.health_score as health_score_delta_30d,
        -- the relationship side's 30-day moves, for the relationship_decline rule
        today.relationship_score - earlier.relationship_score as relationship_score_delta_30d,
        today.nps_score - earlier.nps_score as nps_score_delta_30d,
        -- the change of each component's points in health_score: with the same components having
        -- data on both days this is weight x score change; a component gaining or losing data also
        -- moves the others' points (their weights are redistributed)
        cast(today.recency_health_points - earlier.recency_health_points as {{ type_double() }})
            as recency_contribution_30d,
        cast(today.adoption_health_points - earlier.adoption_health_points as {{ type_double() }})
            as adoption_contribution_30d,
        cast(today.depth_health_points - earlier.depth_health_points as {{ type_double() }})
            as depth_contribution_30d,
        cast(today.breadth_health_points - earlier.breadth_health_points as {{ type_double() }})
            as breadth_contribution_30d,
        cast(today.cs_engagement_health_points - earlier.cs_engagement_health_points as {{ type_double() }})
            as cs_engagement_contribution_30d,
        -- how much the override moved the CSM-adjusted reading beyond the computed move
        cast(
            (
                coalesce(today.override_score, today.health_score)
                - coalesce(earlier.override_score, earlier.health_score)
            )
            - (today.health_score - earlier.health_score)
            as {{ type_score() }}
        ) as override_contribution_30d
    from banded as today
    cross join reprocess_window
    left join banded as earlier
        on
            today.account_id = earlier.account_id
            and earlier.date_day = {{ dbt.dateadd('day', -30, 'today.date_day') }}
    where today.date_day >= reprocess_window.reprocess_from_date

),

-- The at-risk rules, each on a judged day (a data gap or a too-new account is never at risk by
-- score): low health; a heavy user (high usage) whose relationship is low or fell in 30 days, the
-- Frustrated Power Users seed 001 calls the most urgent cohort (configurable, on by default); a
-- CSM override saying so.
risk_rules as (

    select
        *,
        coalesce(
            health_score < {{ var('at_risk_threshold') }} and insufficient_data_reason is null, false
        ) as is_low_health_risk,
        coalesce(
            at_risk_relationship_decline = 1
            and insufficient_data_reason is null
            and usage_score >= quadrant_usage_threshold
            and (
                relationship_score < quadrant_relationship_threshold
                or relationship_score_delta_30d <= -at_risk_relationship_drop_points
                or nps_score_delta_30d <= -at_risk_relationship_drop_points
            ),
            false
        ) as is_relationship_decline_risk
    from compared

),

final as (

    select
        account_day_id,
        account_id,
        date_day,
        segment,
        config_version,
        recency_score,
        adoption_score,
        depth_score,
        breadth_score,
        cs_engagement_score,
        nps_score,
        support_score,
        sentiment_score,
        usage_score,
        relationship_score,
        health_score,
        health_band,
        quadrant,
        quadrant_status,
        insufficient_data_reason is not null as is_insufficient_data,
        insufficient_data_reason,
        health_weight_coverage,
        (is_low_health_risk or is_relationship_decline_risk or is_override_at_risk) as is_at_risk,
        -- the first rule that holds: the computed evidence before a CSM's word, low health first
        case
            when is_low_health_risk then 'low_health'
            when is_relationship_decline_risk then 'relationship_decline'
            when is_override_at_risk then 'override'
        end as at_risk_reason,
        is_low_health_risk,
        is_relationship_decline_risk,
        has_override,
        override_id,
        override_score,
        override_quadrant,
        override_note,
        override_author,
        override_expires_at,
        is_override_at_risk,
        -- the churn model's probability (int_churn_probability_scored); the horizon is in the name
        churn_probability as churn_probability_{{ var('churn_model_horizon_days') }}d,
        health_score_delta_30d,
        relationship_score_delta_30d,
        nps_score_delta_30d,
        cast(recency_health_points as {{ type_double() }}) as recency_health_points,
        recency_contribution_30d,
        adoption_contribution_30d,
        depth_contribution_30d,
        breadth_contribution_30d,
        cs_engagement_contribution_30d,
        override_contribution_30d,
        arr,
        renewal_date,
        subscription_status,
        days_since_active,
        days_since_human_touch,
        account_age_days,
        last_active_date,
        last_human_touch_date,
        licensed_seats,
        active_users_30d,
        active_user_ratio_30d,
        adopted_feature_weight_ratio,
        key_feature_events_30d,
        key_feature_events_per_active_user_30d,
        key_feature_events_per_active_user_week,
        key_features_seen,
        depth_method,
        human_touches_90d,
        avg_nps_180d,
        avg_nps_last_90d,
        avg_nps_prior_90d,
        tickets_opened_30d,
        open_tickets,
        oldest_open_ticket_age_days,
        feature_gate_hits_30d,
        quota_threshold_events_30d,
        top_user_event_share_30d,
        mart_input_fingerprint as input_fingerprint
    from risk_rules

)

-- stored by account: the app reads one account's days, and DuckDB's zone maps on account_id then
-- skip the other accounts' segments (at small: 8 -> 1.7 ms CPU for that query, docs/APP.md)
select * from final
order by account_id, date_day
