-- One row per account with a decided renewal: the latest end of a billed subscription period whose
-- outcome is known (renewed or churned). The product marts compare what accounts did before this
-- date. Definitions: docs block `revenue__renewal_outcome` (DECISIONS.md, issue 5).

with

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

final as (
    select
        account_id,
        renewal_date,
        outcome
    from ranked_outcomes
    where outcome_rank = 1
)

select * from final
