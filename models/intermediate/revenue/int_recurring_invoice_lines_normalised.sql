-- Recurring invoice lines of non-void invoices, each valued as MRR (see the docs block
-- `revenue__line_mrr` and DECISIONS.md "MRR history comes from invoice lines").

with

invoice_lines as (
    select
        stripe_invoice_line_id,
        stripe_invoice_id,
        stripe_subscription_id,
        quantity,
        amount,
        unit_amount,
        billing_interval,
        billing_interval_count,
        price_kind,
        period_start_at,
        period_end_at
    from {{ ref('stg_stripe__invoice_lines') }}
    -- Prorations are one-off adjustments, not a run rate (as in int_billing_aggregated_to_account_days):
    -- a mid-period change shows from the next period on.
    where is_recurring and not coalesce(is_proration, false)
),

invoices as (
    select
        stripe_invoice_id,
        stripe_customer_id
    from {{ ref('stg_stripe__invoices') }}
    -- CONTRACT: every invoice counts except a voided one.
    where coalesce(invoice_status, '') <> 'void'
),

subscriptions as (
    select
        stripe_subscription_id,
        ended_at
    from {{ ref('stg_stripe__subscriptions') }}
),

accounts as (
    select
        account_id,
        stripe_customer_id
    from {{ ref('stg_crm__accounts') }}
    where stripe_customer_id is not null
),

attributed_to_accounts as (
    select
        accounts.account_id,
        invoice_lines.stripe_invoice_line_id,
        invoice_lines.stripe_invoice_id,
        invoice_lines.stripe_subscription_id,
        invoice_lines.quantity,
        invoice_lines.amount,
        invoice_lines.unit_amount,
        invoice_lines.billing_interval,
        invoice_lines.billing_interval_count,
        invoice_lines.price_kind,
        cast(invoice_lines.period_start_at as date) as period_start_date,
        cast(invoice_lines.period_end_at as date) as billed_period_end_date,
        -- A subscription that ended inside the billed period stops counting on its end date.
        case
            when
                subscriptions.ended_at is not null
                and cast(subscriptions.ended_at as date) < cast(invoice_lines.period_end_at as date)
                then cast(subscriptions.ended_at as date)
            else cast(invoice_lines.period_end_at as date)
        end as period_end_date
    from invoice_lines
    inner join invoices
        on invoice_lines.stripe_invoice_id = invoices.stripe_invoice_id
    inner join accounts
        on invoices.stripe_customer_id = accounts.stripe_customer_id
    left join subscriptions
        on invoice_lines.stripe_subscription_id = subscriptions.stripe_subscription_id
),

with_months_per_interval as (
    select
        *,
        -- How many months one billing interval lasts; a year is 12 months, a week 7/365ths of one.
        -- A double on every engine (DuckDB's decimal division already yields one).
        cast(case billing_interval
            when 'month' then 1.0
            when 'year' then 12.0
            when 'week' then 7.0 * 12.0 / 365.0
            when 'day' then 12.0 / 365.0
        end * coalesce(billing_interval_count, 1) as {{ type_double() }}) as months_per_interval
    from attributed_to_accounts
),

valued as (
    select
        *,
        -- The price's value (unit_amount x quantity) per month; the sign of the line's amount keeps a
        -- zero-amount line (a trial) at zero and a credit line negative.
        (case when amount > 0 then 1 when amount < 0 then -1 else 0 end)
        * coalesce(unit_amount * quantity, abs(amount))
        / months_per_interval as line_mrr
    from with_months_per_interval
),

final as (
    select
        stripe_invoice_line_id,
        account_id,
        stripe_invoice_id,
        stripe_subscription_id,
        billing_interval,
        billing_interval_count,
        price_kind,
        quantity,
        months_per_interval,
        cast(line_mrr as {{ type_money() }}) as line_mrr,
        period_start_date,
        period_end_date,
        billed_period_end_date
    from valued
)

select * from final
