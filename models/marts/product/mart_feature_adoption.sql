-- One row per key feature per quadrant on the as-of date: how many of the quadrant's paying
-- accounts used the feature in the adoption window. Definitions: docs block `product__feature_adoption`.

{%- set window_days = var('feature_adoption_window_days') %}

with

key_features as (
    select feature_name
    from {{ ref('key_features') }}
),

health_daily as (
    select
        account_id,
        date_day,
        quadrant
    from {{ ref('fct_account_health_daily') }}
),

movements as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('fct_mrr_movements') }}
),

feature_usage as (
    select
        account_id,
        date_day,
        feature_name
    from {{ ref('int_feature_usage_aggregated_to_account_days') }}
),

as_of as (
    select max(date_day) as as_of_date
    from health_daily
),

latest_months as (
    select
        account_id,
        max(month_start) as month_start
    from movements
    group by account_id
),

-- Paying accounts: MRR in the as-of month (the month of the latest health day).
paying_accounts as (
    select latest_months.account_id
    from latest_months
    inner join movements
        on
            latest_months.account_id = movements.account_id
            and latest_months.month_start = movements.month_start
    cross join as_of
    where
        movements.mrr > 0
        and latest_months.month_start = cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)
),

quadrant_members as (
    select
        health_daily.account_id,
        health_daily.quadrant,
        as_of.as_of_date
    from health_daily
    inner join as_of
        on health_daily.date_day = as_of.as_of_date
    inner join paying_accounts
        on health_daily.account_id = paying_accounts.account_id
    -- an account whose quadrant is unknown belongs to no quadrant's cohort
    where health_daily.quadrant is not null
),

-- Used in the window: the window_days days ending on the as-of date, that day included.
feature_users as (
    select
        feature_usage.account_id,
        feature_usage.feature_name
    from feature_usage
    cross join as_of
    where
        feature_usage.date_day <= as_of.as_of_date
        and feature_usage.date_day > cast({{ dbt.dateadd('day', -window_days, 'as_of.as_of_date') }} as date)
    group by
        feature_usage.account_id,
        feature_usage.feature_name
),

quadrant_sizes as (
    select
        quadrant,
        max(as_of_date) as as_of_date,
        count(*) as accounts -- noqa: RF04
    from quadrant_members
    group by quadrant
),

adopters as (
    select
        quadrant_members.quadrant,
        feature_users.feature_name,
        count(*) as adopting_accounts
    from quadrant_members
    inner join feature_users
        on quadrant_members.account_id = feature_users.account_id
    group by
        quadrant_members.quadrant,
        feature_users.feature_name
),

final as (
    select
        {{ dbt.concat(['key_features.feature_name', "'_'", 'quadrant_sizes.quadrant']) }} as feature_adoption_id,
        quadrant_sizes.as_of_date,
        key_features.feature_name as feature,
        quadrant_sizes.quadrant,
        quadrant_sizes.accounts,
        coalesce(adopters.adopting_accounts, 0) as adopting_accounts,
        cast(coalesce(adopters.adopting_accounts, 0) as {{ type_double() }}) / quadrant_sizes.accounts as adoption_rate
    from key_features
    cross join quadrant_sizes
    left join adopters
        on
            key_features.feature_name = adopters.feature_name
            and quadrant_sizes.quadrant = adopters.quadrant
)

select * from final
