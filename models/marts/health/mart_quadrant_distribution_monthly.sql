-- One row per month per quadrant (or unknown-quadrant reason): the accounts and ARR in each on the
-- month's last scored day. Seed 001's monthly product review: is the book moving towards Champions
-- or towards Churn Risk? Definitions: docs block `health__quadrant_distribution_monthly`.

with

health_daily as (
    select
        account_id,
        date_day,
        quadrant,
        quadrant_status,
        is_insufficient_data,
        arr
    from {{ ref('fct_account_health_daily') }}
),

-- The month's last day in the history (the month end, or the as-of date in the current month).
month_last_days as (
    select
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        max(date_day) as scored_on
    from health_daily
    group by cast({{ dbt.date_trunc('month', 'date_day') }} as date)
),

month_accounts as (
    select
        month_last_days.month_start,
        month_last_days.scored_on,
        health_daily.account_id,
        case when not health_daily.is_insufficient_data then health_daily.quadrant end as quadrant,
        -- a day not judged has no quadrant: say why
        case
            when health_daily.is_insufficient_data then 'insufficient_data'
            else health_daily.quadrant_status
        end as quadrant_status,
        health_daily.arr
    from month_last_days
    inner join health_daily
        on month_last_days.scored_on = health_daily.date_day
),

month_totals as (
    select
        month_start,
        count(*) as month_accounts
    from month_accounts
    group by month_start
),

grouped as (
    select
        month_start,
        scored_on,
        quadrant,
        quadrant_status,
        count(*) as accounts, -- noqa: RF04
        count(arr) as accounts_with_arr,
        cast(sum(arr) as {{ type_money() }}) as arr
    from month_accounts
    group by
        month_start,
        scored_on,
        quadrant,
        quadrant_status
),

final as (
    select
        {{ dbt.concat([
            'cast(grouped.month_start as ' ~ dbt.type_string() ~ ')', "'_'",
            'coalesce(grouped.quadrant, grouped.quadrant_status)',
        ]) }} as quadrant_month_id,
        grouped.month_start,
        grouped.scored_on,
        grouped.quadrant,
        grouped.quadrant_status,
        grouped.accounts,
        {{ ratio('grouped.accounts', 'month_totals.month_accounts') }} as account_share,
        grouped.accounts_with_arr,
        grouped.arr
    from grouped
    inner join month_totals
        on grouped.month_start = month_totals.month_start
)

select * from final
