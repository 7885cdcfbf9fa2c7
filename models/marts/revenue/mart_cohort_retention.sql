-- One row per revenue cohort (the month of an account's `new` movement) per month since that start:
-- logo and revenue retention at equal tenure. Formulas: docs block `revenue__cohort_retention`.

{%- set cohort_month_text = 'cast(cohort_month as ' ~ dbt.type_string() ~ ')' %}
{%- set months_since_start_text = 'cast(months_since_start as ' ~ dbt.type_string() ~ ')' %}

with

account_months as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
),

health_daily as (
    select
        account_id,
        date_day,
        health_score
    from {{ ref('fct_account_health_daily') }}
),

cohorts as (
    select
        account_id,
        month_start as cohort_month
    from {{ ref('fct_mrr_movements') }}
    where movement_type = 'new'
),

-- Every account stays in its cohort's denominator until the as-of month, also after a churn.
tenure_months as (
    select
        cohorts.cohort_month,
        {{ dbt.datediff('cohorts.cohort_month', 'account_months.month_start', 'month') }} as months_since_start, -- noqa: LT05
        account_months.account_id,
        account_months.mrr,
        -- Health on the measured month's first day, the same day MRR is measured on.
        health_daily.health_score
    from cohorts
    inner join account_months
        on
            cohorts.account_id = account_months.account_id
            and cohorts.cohort_month <= account_months.month_start
    left join health_daily
        on
            account_months.account_id = health_daily.account_id
            and account_months.month_start = health_daily.date_day
),

aggregated as (
    select
        cohort_month,
        months_since_start,
        count(*) as accounts, -- noqa: RF04
        sum(case when mrr > 0 then 1 else 0 end) as retained_accounts,
        sum(mrr) as mrr,
        count(health_score) as scored_accounts,
        avg(health_score) as avg_health_score
    from tenure_months
    group by
        cohort_month,
        months_since_start
),

with_starting_mrr as (
    select
        *,
        -- Every cohort has a month 0 row: the month of its accounts' `new` movement.
        max(case when months_since_start = 0 then mrr end) over (partition by cohort_month) as starting_mrr
    from aggregated
),

final as (
    select
        {{ dbt.concat([cohort_month_text, "'_'", months_since_start_text]) }} as cohort_retention_id,
        cohort_month,
        months_since_start,
        accounts,
        cast(retained_accounts as {{ dbt.type_bigint() }}) as retained_accounts,
        -- money numeric at the scale of mrr, ratios and averages doubles, on every engine
        cast(starting_mrr as {{ type_money() }}) as starting_mrr,
        cast(mrr as {{ type_money() }}) as mrr,
        cast(retained_accounts as {{ type_double() }}) / accounts as logo_retention,
        {{ ratio('mrr', 'starting_mrr') }} as revenue_retention,
        scored_accounts,
        cast(avg_health_score as {{ type_double() }}) as avg_health_score
    from with_starting_mrr
)

select * from final
