-- Claim: on as_of_date the account-day ARR totals the active Stripe subscription items of the
-- linked customers (unit_amount x quantity annualised), to the cent, and mrr = arr / 12.

{%- set active_statuses = var('active_subscription_statuses') %}

with

as_of_billing as (
    select
        sum(billing_days.arr) as billed_arr,
        sum(billing_days.mrr) as billed_mrr
    from {{ ref('int_billing_aggregated_to_account_days') }} as billing_days
    where billing_days.billing_source = 'subscriptions'
),

as_of as (
    select distinct as_of_date
    from {{ ref('int_accounts_spined_to_days') }}
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
    from {{ ref('stg_stripe__subscription_items') }} as items
    inner join {{ ref('stg_stripe__subscriptions') }} as subscriptions
        on items.stripe_subscription_id = subscriptions.stripe_subscription_id
    inner join {{ ref('stg_crm__accounts') }} as accounts
        on subscriptions.stripe_customer_id = accounts.stripe_customer_id
    cross join as_of
    where
        subscriptions.subscription_status in (
            {% for status in active_statuses %}'{{ status }}'{% if not loop.last %}, {% endif %}{% endfor %}
        )
        and (subscriptions.ended_at is null or cast(subscriptions.ended_at as date) > as_of.as_of_date)
)

select *
from as_of_billing
cross join subscription_arr
where
    abs(coalesce(as_of_billing.billed_arr, 0) - coalesce(subscription_arr.stripe_arr, 0)) >= 0.01 * (
        select count(*) from {{ ref('int_billing_aggregated_to_account_days') }} where billing_source = 'subscriptions'
    ) + 0.005
    or abs(coalesce(as_of_billing.billed_mrr, 0) * 12 - coalesce(as_of_billing.billed_arr, 0)) >= 0.12 * (
        select count(*) from {{ ref('int_billing_aggregated_to_account_days') }} where billing_source = 'subscriptions'
    ) + 0.005
