-- Claim: a month's MRR in the revenue history equals the MRR that int_billing_aggregated_to_account_days
-- gives the month's first day (both read the same invoice lines), for every first day before the
-- as-of date (the as-of day itself is valued from the active subscriptions there).

with

account_months as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
),

billing_days as (
    select
        account_id,
        date_day,
        mrr,
        billing_source
    from {{ ref('int_billing_aggregated_to_account_days') }}
)

select
    account_months.account_id,
    account_months.month_start,
    account_months.mrr as revenue_mrr,
    billing_days.mrr as billing_mrr
from account_months
inner join billing_days
    on
        account_months.account_id = billing_days.account_id
        and account_months.month_start = billing_days.date_day
where
    billing_days.billing_source = 'invoice_lines'
    and abs(account_months.mrr - billing_days.mrr) > 0.01
