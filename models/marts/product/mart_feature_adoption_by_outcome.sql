-- One row per key feature x window (30/60/90 days) x renewal outcome: of the accounts whose
-- latest decided renewal point renewed (or churned), how many used the feature in the window
-- before it. Definitions: docs block `product__feature_adoption_by_outcome`.

with

key_features as (
    select feature_name
    from {{ ref('key_features') }}
),

crm_accounts as (
    select
        account_id,
        stripe_customer_id
    from {{ ref('stg_crm__accounts') }}
    where stripe_customer_id is not null
),

subscriptions as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        ended_at
    from {{ ref('stg_stripe__subscriptions') }}
),

invoice_lines as (
    select
        stripe_subscription_id,
        period_start_at,
        period_end_at
    from {{ ref('stg_stripe__invoice_lines') }}
    where
        is_recurring
        and not is_proration
        and stripe_subscription_id is not null
),

feature_usage as (
    select
        account_id,
        date_day,
        feature_name
    from {{ ref('int_feature_usage_aggregated_to_account_days') }}
),

windows as (
    select window_days
    from (values (30), (60), (90)) as window_list (window_days) -- noqa: AL05
),

-- One row per billed period of a subscription (several lines share a period).
periods as (
    select
        stripe_subscription_id,
        cast(period_start_at as date) as period_start_date,
        cast(period_end_at as date) as period_end_date
    from invoice_lines
    group by
        stripe_subscription_id,
        cast(period_start_at as date),
        cast(period_end_at as date)
),

-- A period end renewed when a later period of the same subscription starts on or after it.
next_periods as (
    select
        ended.stripe_subscription_id,
        ended.period_end_date,
        max(case when later.period_start_date >= ended.period_end_date then 1 else 0 end) as has_next_period
    from periods as ended
    left join periods as later
        on ended.stripe_subscription_id = later.stripe_subscription_id
    group by
        ended.stripe_subscription_id,
        ended.period_end_date
),

-- Churned: no next period and the subscription ended on or before the period end. Period ends
-- with neither (still running, not yet renewed) are undecided and left out.
renewal_points as (
    select
        crm_accounts.account_id,
        next_periods.period_end_date as renewal_date,
        case
            when next_periods.has_next_period = 1 then 'renewed'
            when cast(subscriptions.ended_at as date) <= next_periods.period_end_date then 'churned'
        end as outcome
    from next_periods
    inner join subscriptions
        on next_periods.stripe_subscription_id = subscriptions.stripe_subscription_id
    inner join crm_accounts
        on subscriptions.stripe_customer_id = crm_accounts.stripe_customer_id
),

-- One outcome per account: its latest decided renewal point (tie on a day: churned wins).
-- row_number in a CTE, not qualify: PostgreSQL has no qualify.
ranked_outcomes as (
    select
        account_id,
        renewal_date,
        outcome,
        row_number() over (
            partition by account_id
            order by renewal_date desc, case when outcome = 'churned' then 0 else 1 end
        ) as outcome_rank
    from renewal_points
    where outcome is not null
),

account_outcomes as (
    select
        account_id,
        renewal_date,
        outcome
    from ranked_outcomes
    where outcome_rank = 1
),

-- Used in the window: the window_days days before the renewal date, that day excluded.
adoptions as (
    select
        account_outcomes.account_id,
        account_outcomes.outcome,
        windows.window_days,
        feature_usage.feature_name
    from account_outcomes
    cross join windows
    inner join feature_usage
        on
            account_outcomes.account_id = feature_usage.account_id
            and account_outcomes.renewal_date > feature_usage.date_day
            and cast({{ dbt.dateadd('day', '-windows.window_days', 'account_outcomes.renewal_date') }} as date)
            <= feature_usage.date_day
    group by
        account_outcomes.account_id,
        account_outcomes.outcome,
        windows.window_days,
        feature_usage.feature_name
),

outcome_sizes as (
    select
        outcome,
        count(*) as accounts -- noqa: RF04
    from account_outcomes
    group by outcome
),

adopters as (
    select
        feature_name,
        window_days,
        outcome,
        count(*) as adopting_accounts
    from adoptions
    group by
        feature_name,
        window_days,
        outcome
),

final as (
    select
        {{ dbt.concat([
            'key_features.feature_name', "'_'",
            'cast(windows.window_days as ' ~ dbt.type_string() ~ ')', "'_'",
            'outcome_sizes.outcome',
        ]) }} as feature_adoption_by_outcome_id,
        key_features.feature_name as feature,
        windows.window_days,
        outcome_sizes.outcome,
        outcome_sizes.accounts,
        coalesce(adopters.adopting_accounts, 0) as adopting_accounts,
        cast(coalesce(adopters.adopting_accounts, 0) as {{ type_double() }}) / outcome_sizes.accounts as adoption_rate
    from key_features
    cross join windows
    cross join outcome_sizes
    left join adopters
        on
            key_features.feature_name = adopters.feature_name
            and windows.window_days = adopters.window_days
            and outcome_sizes.outcome = adopters.outcome
)

select * from final
