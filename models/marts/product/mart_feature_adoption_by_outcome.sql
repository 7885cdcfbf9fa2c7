-- One row per key feature x window (30/60/90 days) x renewal outcome: of the accounts whose
-- latest decided renewal point renewed (or churned), how many used the feature in the window
-- before it. Definitions: docs block `product__feature_adoption_by_outcome`.

with

key_features as (
    select feature_name
    from {{ ref('key_features') }}
),

feature_usage as (
    select
        account_id,
        date_day,
        feature_name
    from {{ ref('int_feature_usage_aggregated_to_account_days') }}
),

account_outcomes as (
    select
        account_id,
        renewal_date,
        outcome
    from {{ ref('int_renewal_outcomes_resolved_to_accounts') }}
),

windows as (
    select window_days
    from (values (30), (60), (90)) as window_list (window_days) -- noqa: AL05
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
