-- One row per account (current state): CRM attributes, today's billing and usage, today's health
-- with its CSM override beside it, and last week's quadrant.

with

accounts as (

    select
        account_id,
        account_name,
        segment,
        industry,
        csm_owner,
        stripe_customer_id,
        created_at
    from {{ ref('stg_crm__accounts') }}

),

-- Stripe customers landed: an account whose customer is among them has known billing (0 ARR when
-- nothing is active); one with no customer in the billing data has unknown ARR, never 0.
billed_customers as (

    select stripe_customer_id from {{ ref('stg_stripe__customers') }}

),

accounts_daily as (

    select
        account_id,
        date_day,
        subscription_status,
        arr,
        mrr,
        licensed_seats,
        renewal_date,
        last_active_at,
        active_users_7d,
        active_users_30d,
        active_user_ratio_30d,
        key_features_used_30d
    from {{ ref('int_accounts_daily') }}

),

health_daily as (

    select * from {{ ref('fct_account_health_daily') }}

),

quadrants_weekly as (

    select
        account_id,
        week_start,
        quadrant
    from {{ ref('fct_account_quadrants_weekly') }}

),

as_of as (

    select max(date_day) as as_of_date from health_daily

),

health_today as (

    select health_daily.*
    from health_daily
    inner join as_of
        on health_daily.date_day = as_of.as_of_date

),

usage_today as (

    select accounts_daily.*
    from accounts_daily
    inner join as_of
        on accounts_daily.date_day = as_of.as_of_date

),

-- the quadrant of the week before the current week
previous_quadrants as (

    select
        quadrants_weekly.account_id,
        quadrants_weekly.quadrant as previous_quadrant
    from quadrants_weekly
    inner join as_of
        on quadrants_weekly.week_start = cast(
            {{ dbt.dateadd('day', -7, dbt.date_trunc('week', 'as_of.as_of_date')) }} as date
        )

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.segment,
        accounts.industry,
        accounts.csm_owner,
        accounts.stripe_customer_id,
        accounts.created_at,
        as_of.as_of_date,
        usage_today.subscription_status,
        billed_customers.stripe_customer_id is not null as has_billing,
        case when billed_customers.stripe_customer_id is not null then coalesce(usage_today.arr, 0) end as arr,
        case when billed_customers.stripe_customer_id is not null then coalesce(usage_today.mrr, 0) end as mrr,
        case
            when billed_customers.stripe_customer_id is not null then coalesce(usage_today.licensed_seats, 0)
        end as licensed_seats,
        usage_today.renewal_date,
        {{ dbt.datediff('as_of.as_of_date', 'usage_today.renewal_date', 'day') }}
            as days_to_renewal,
        usage_today.last_active_at,
        health_today.days_since_active,
        coalesce(usage_today.active_users_7d, 0) as active_users_7d,
        coalesce(usage_today.active_users_30d, 0) as active_users_30d,
        -- a ratio to seats nobody knows is unknown too
        case
            when billed_customers.stripe_customer_id is not null then coalesce(usage_today.active_user_ratio_30d, 0)
        end as active_user_ratio_30d,
        coalesce(usage_today.key_features_used_30d, 0) as key_features_used_30d,
        health_today.config_version,
        health_today.recency_score,
        health_today.adoption_score,
        health_today.depth_score,
        health_today.breadth_score,
        health_today.cs_engagement_score,
        health_today.nps_score,
        health_today.support_score,
        health_today.sentiment_score,
        health_today.usage_score,
        health_today.relationship_score,
        health_today.health_score,
        health_today.health_band,
        health_today.health_score_delta_30d,
        health_today.churn_probability_{{ var('churn_model_horizon_days') }}d,
        health_today.quadrant,
        -- an account without a health row today has no quadrant for that reason
        coalesce(health_today.quadrant_status, 'not_scored') as quadrant_status,
        previous_quadrants.previous_quadrant,
        coalesce(health_today.is_at_risk, false) as is_at_risk,
        health_today.at_risk_reason,
        coalesce(health_today.is_low_health_risk, false) as is_low_health_risk,
        coalesce(health_today.is_relationship_decline_risk, false) as is_relationship_decline_risk,
        health_today.relationship_score_delta_30d,
        health_today.nps_score_delta_30d,
        coalesce(health_today.is_insufficient_data, false) as is_insufficient_data,
        health_today.insufficient_data_reason,
        coalesce(health_today.has_override, false) as has_override,
        health_today.override_score,
        health_today.override_quadrant,
        health_today.override_note,
        health_today.override_author,
        health_today.override_expires_at,
        health_today.days_since_human_touch
    from accounts
    cross join as_of
    left join usage_today
        on accounts.account_id = usage_today.account_id
    left join health_today
        on accounts.account_id = health_today.account_id
    left join previous_quadrants
        on accounts.account_id = previous_quadrants.account_id
    left join billed_customers
        on accounts.stripe_customer_id = billed_customers.stripe_customer_id

)

select * from final
