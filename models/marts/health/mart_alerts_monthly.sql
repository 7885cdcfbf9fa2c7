-- One row per month per alert type: how many alerts fired and for what share of the accounts
-- scored that month. An alert type that fires for most accounts says nothing (issue 19); this is
-- where that shows. Definitions: docs block `health__alerts_monthly`.

with

health_daily as (
    select
        account_id,
        date_day,
        is_insufficient_data
    from {{ ref('fct_account_health_daily') }}
),

alerts as (
    select
        account_id,
        alerted_on,
        alert_type
    from {{ ref('fct_health_alerts') }}
),

-- Accounts with at least one judged day in the month: the accounts an alert could fire for.
scored_accounts as (
    select
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        count(distinct account_id) as scored_accounts
    from health_daily
    where not is_insufficient_data
    group by cast({{ dbt.date_trunc('month', 'date_day') }} as date)
),

alert_counts as (
    select
        cast({{ dbt.date_trunc('month', 'alerted_on') }} as date) as month_start,
        alert_type,
        count(*) as alerts,
        count(distinct account_id) as alerted_accounts
    from alerts
    group by
        cast({{ dbt.date_trunc('month', 'alerted_on') }} as date),
        alert_type
),

alert_types as (
    select alert_type
    from alerts
    group by alert_type
),

-- Every type that ever fired, in every scored month: a month without one is a 0, not a gap.
month_types as (
    select
        scored_accounts.month_start,
        scored_accounts.scored_accounts,
        alert_types.alert_type
    from scored_accounts
    cross join alert_types
),

final as (
    select
        {{ dbt.concat([
            'cast(month_types.month_start as ' ~ dbt.type_string() ~ ')', "'_'", 'month_types.alert_type',
        ]) }} as alert_month_id,
        month_types.month_start,
        month_types.alert_type,
        month_types.scored_accounts,
        coalesce(alert_counts.alerts, 0) as alerts,
        coalesce(alert_counts.alerted_accounts, 0) as alerted_accounts,
        {{ ratio('coalesce(alert_counts.alerted_accounts, 0)', 'month_types.scored_accounts') }}
            as alerted_account_share,
        {{ ratio('coalesce(alert_counts.alerts, 0)', 'month_types.scored_accounts') }}
            as alerts_per_account
    from month_types
    left join alert_counts
        on
            month_types.month_start = alert_counts.month_start
            and month_types.alert_type = alert_counts.alert_type
)

select * from final
