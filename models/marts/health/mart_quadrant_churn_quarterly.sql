-- One row per quarter per quadrant: of the accounts paying at the start of the quarter in that
-- quadrant, how many churned during it. Seed 001: "Frustrated Power Users churn at 2.1x the rate of
-- Champions"; this is the company's own figure. Definitions: docs block `health__quadrant_churn_quarterly`.

with

health_daily as (
    select
        account_id,
        date_day,
        quadrant,
        is_insufficient_data
    from {{ ref('fct_account_health_daily') }}
),

movements as (
    select
        account_id,
        month_start,
        mrr,
        movement_type
    from {{ ref('fct_mrr_movements') }}
),

as_of as (
    select max(date_day) as as_of_date
    from health_daily
),

-- The quadrant each account was in on the first day of a quarter (judged days only).
quarter_quadrants as (
    select
        account_id,
        date_day as quarter_start,
        quadrant
    from health_daily
    where
        date_day = cast({{ dbt.date_trunc('quarter', 'date_day') }} as date)
        and not is_insufficient_data
        and quadrant is not null
),

-- Paying at the start of the quarter: MRR in the quarter's first month (a month's MRR is its first day's).
quarter_cohorts as (
    select
        quarter_quadrants.account_id,
        quarter_quadrants.quarter_start,
        quarter_quadrants.quadrant,
        movements.mrr
    from quarter_quadrants
    inner join movements
        on
            quarter_quadrants.account_id = movements.account_id
            and quarter_quadrants.quarter_start = movements.month_start
    where movements.mrr > 0
),

-- A churn movement in month M means no MRR on M's first day: the subscriptions ended in the month
-- before. So a quarter's churn is a churn movement in its second or third month, or in the first
-- month of the next quarter.
churns as (
    select
        account_id,
        month_start
    from movements
    where movement_type = 'churn'
),

cohort_outcomes as (
    select
        quarter_cohorts.quarter_start,
        quarter_cohorts.quadrant,
        quarter_cohorts.account_id,
        quarter_cohorts.mrr,
        max(case when churns.account_id is not null then 1 else 0 end) as has_churned
    from quarter_cohorts
    left join churns
        on
            quarter_cohorts.account_id = churns.account_id
            and quarter_cohorts.quarter_start < churns.month_start
            and cast({{ dbt.dateadd('month', 3, 'quarter_cohorts.quarter_start') }} as date) >= churns.month_start
    group by
        quarter_cohorts.quarter_start,
        quarter_cohorts.quadrant,
        quarter_cohorts.account_id,
        quarter_cohorts.mrr
),

grouped as (
    select
        quarter_start,
        quadrant,
        count(*) as accounts, -- noqa: RF04
        cast(sum(has_churned) as {{ dbt.type_bigint() }}) as churned_accounts,
        cast(sum(mrr) as {{ type_money() }}) as starting_mrr,
        cast(sum(case when has_churned = 1 then mrr else 0 end) as {{ type_money() }}) as churned_mrr
    from cohort_outcomes
    group by
        quarter_start,
        quadrant
),

champions as (
    select
        quarter_start,
        {{ ratio('churned_accounts', 'accounts') }} as champion_churn_rate
    from grouped
    where quadrant = 'Champions'
),

final as (
    select
        {{ dbt.concat(['cast(grouped.quarter_start as ' ~ dbt.type_string() ~ ')', "'_'", 'grouped.quadrant']) }}
            as quadrant_quarter_id,
        grouped.quarter_start,
        grouped.quadrant,
        -- the quarter's last day has passed: later churn cannot change its rate any more
        cast({{ dbt.dateadd('month', 3, 'grouped.quarter_start') }} as date) <= as_of.as_of_date as is_complete,
        grouped.accounts,
        grouped.churned_accounts,
        {{ ratio('grouped.churned_accounts', 'grouped.accounts') }} as churn_rate,
        grouped.starting_mrr,
        grouped.churned_mrr,
        -- null when the quarter has no Champions or none of them churned (no ratio to take)
        {{ ratio(ratio('grouped.churned_accounts', 'grouped.accounts'), 'champions.champion_churn_rate') }}
            as churn_rate_vs_champions
    from grouped
    cross join as_of
    left join champions
        on grouped.quarter_start = champions.quarter_start
)

select * from final
