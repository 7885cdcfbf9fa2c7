-- Claim: on as_of_date the account-day ARR totals the active Stripe subscription items of the
-- linked customers (unit_amount x quantity annualised), within half a cent per account, and
-- mrr x 12 = arr within 12 x half a cent per account (both are rounded to cents).

{%- set active_status_list = "'" ~ var('active_subscription_statuses') | join("', '") ~ "'" %}

with

as_of_days as (
    select
        arr,
        mrr
    from {{ ref('int_billing_aggregated_to_account_days') }}
    where billing_source = 'subscriptions'
),

as_of_billing as (
    select
        count(*) as accounts,
        sum(arr) as billed_arr,
        sum(mrr) as billed_mrr
    from as_of_days
),

as_of as (
    select max(as_of_date) as as_of_date
    from {{ ref('int_accounts_spined_to_days') }}
),

items as (
    select
        stripe_subscription_id,
        unit_amount,
        quantity,
        billing_interval,
        billing_interval_count
    from {{ ref('stg_stripe__subscription_items') }}
),

subscriptions as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        subscription_status,
        ended_at
    from {{ ref('stg_stripe__subscriptions') }}
),

accounts as (
    select stripe_customer_id
    from {{ ref('stg_crm__accounts') }}
),

subscription_arr as (
    select
        sum(
            items.unit_amount * items.quantity
            * case items.billing_interval
                when 'month' then 12.0
                when 'year' then 1.0
                when 'week' then 365.0 / 7.0
                when 'day' then 365.0
            end / coalesce(items.billing_interval_count, 1)
        ) as stripe_arr
    from items
    inner join subscriptions
        on items.stripe_subscription_id = subscriptions.stripe_subscription_id
    inner join accounts
        on subscriptions.stripe_customer_id = accounts.stripe_customer_id
    cross join as_of
    where
        subscriptions.subscription_status in ({{ active_status_list }})
        and (subscriptions.ended_at is null or cast(subscriptions.ended_at as date) > as_of.as_of_date)
)

select
    as_of_billing.accounts,
    as_of_billing.billed_arr,
    as_of_billing.billed_mrr,
    subscription_arr.stripe_arr
from as_of_billing
cross join subscription_arr
where
    abs(coalesce(as_of_billing.billed_arr, 0) - coalesce(subscription_arr.stripe_arr, 0))
    > 0.005 * as_of_billing.accounts + 0.000001
    or abs(coalesce(as_of_billing.billed_mrr, 0) * 12 - coalesce(as_of_billing.billed_arr, 0))
    > 0.06 * as_of_billing.accounts + 0.000001
