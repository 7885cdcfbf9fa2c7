-- Seats, ARR, MRR, renewal date and subscription status per account per day (CONTRACT section 3):
-- past days from the recurring lines of non-void invoices, as_of_date from the active subscriptions.
-- DECISIONS.md "Billing per day" explains the split and the status values.
-- A table, not a view: read by int_accounts_daily, the revenue models and several tests; as a
-- view each of them re-expanded invoice lines to days (slow on PostgreSQL above all).
{{ config(materialized='table') }}

{%- set seat_kinds = var('seat_price_kinds') %}
{%- set active_statuses = var('active_subscription_statuses') %}
{#- the same lists as SQL literals ('a', 'b'), for the `in (...)` tests below #}
{%- set seat_kind_list = "'" ~ seat_kinds | join("', '") ~ "'" %}
{%- set active_status_list = "'" ~ active_statuses | join("', '") ~ "'" %}

with

spine as (
    select
        account_day_id,
        account_id,
        date_day,
        as_of_date
    from {{ ref('int_accounts_spined_to_days') }}
),

subscriptions as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        subscription_status,
        current_period_end_at,
        ended_at
    from {{ ref('stg_stripe__subscriptions') }}
),

subscription_items as (
    select
        stripe_subscription_id,
        quantity,
        unit_amount,
        billing_interval,
        billing_interval_count,
        price_kind
    from {{ ref('stg_stripe__subscription_items') }}
),

accounts as (
    select
        account_id,
        stripe_customer_id
    from {{ ref('stg_crm__accounts') }}
    where stripe_customer_id is not null
),

-- The revenue models' lines (int_recurring_invoice_lines_normalised): recurring, non-proration
-- lines of non-void invoices attributed to accounts, each valued per month (line_mrr: a zero-amount
-- trial line is worth 0, see the docs block `revenue__line_mrr`), counted on every day of
-- [period_start_date, period_end_date) where period_end_date is already cut short by the end of a
-- canceled subscription. MRR history per day and per month thus come from the same line values.
history_lines as (
    select
        account_id,
        line_mrr,
        case
            when price_kind in ({{ seat_kind_list }})
                then coalesce(quantity, 0)
            else 0
        end as seat_quantity,
        period_start_date,
        -- the renewal seen from a covered day is the billed period's end
        billed_period_end_date as period_end_date,
        period_end_date as counted_until_date
    from {{ ref('int_recurring_invoice_lines_normalised') }}
),

account_first_lines as (
    select
        account_id,
        min(period_start_date) as first_period_start_date
    from history_lines
    group by account_id
),

past_days as (
    select
        spine.account_day_id,
        spine.account_id,
        spine.date_day,
        count(history_lines.account_id) as covering_lines,
        sum(coalesce(history_lines.line_mrr, 0)) as mrr,
        sum(coalesce(history_lines.seat_quantity, 0)) as licensed_seats,
        -- The next renewal seen from that day: the earliest end of a period that covers it.
        min(history_lines.period_end_date) as renewal_date
    from spine
    left join history_lines
        on
            spine.account_id = history_lines.account_id
            and spine.date_day >= history_lines.period_start_date
            and spine.date_day < history_lines.counted_until_date
    where spine.date_day < spine.as_of_date
    group by
        spine.account_day_id,
        spine.account_id,
        spine.date_day
),

past_days_with_status as (
    select
        past_days.account_day_id,
        past_days.account_id,
        past_days.date_day,
        past_days.licensed_seats,
        past_days.mrr * 12 as arr,
        past_days.mrr,
        past_days.renewal_date,
        case
            when past_days.covering_lines > 0 and past_days.mrr > 0 then 'active'
            -- Only zero-valued lines (a trial) cover the day.
            when past_days.covering_lines > 0 then 'trialing'
            when account_first_lines.first_period_start_date < past_days.date_day then 'canceled'
            else 'none'
        end as subscription_status,
        'invoice_lines' as billing_source
    from past_days
    left join account_first_lines
        on past_days.account_id = account_first_lines.account_id
),

as_of as (
    select distinct as_of_date
    from spine
),

account_subscriptions as (
    select
        accounts.account_id,
        subscriptions.stripe_subscription_id,
        subscriptions.subscription_status,
        subscriptions.current_period_end_at,
        -- Active on as_of_date: an active status and not ended by then (a canceled subscription
        -- ends on its end date).
        (
            subscriptions.subscription_status in ({{ active_status_list }})
            and (subscriptions.ended_at is null or cast(subscriptions.ended_at as date) > as_of.as_of_date)
        ) as is_active_on_as_of
    from subscriptions
    inner join accounts
        on subscriptions.stripe_customer_id = accounts.stripe_customer_id
    cross join as_of
),

-- ARR of an item: unit_amount x quantity annualised by its interval (macros/billing/item_arr.sql).
active_items as (
    select
        account_subscriptions.account_id,
        {{ item_arr('subscription_items') }} as item_arr,
        case
            when subscription_items.price_kind in ({{ seat_kind_list }})
                then coalesce(subscription_items.quantity, 0)
            else 0
        end as seat_quantity
    from account_subscriptions
    inner join subscription_items
        on account_subscriptions.stripe_subscription_id = subscription_items.stripe_subscription_id
    where account_subscriptions.is_active_on_as_of
),

active_item_totals as (
    select
        account_id,
        sum(item_arr) as arr,
        sum(seat_quantity) as licensed_seats
    from active_items
    group by account_id
),

-- A subscription with an active status that has ended by as_of_date counts as canceled.
subscription_effective_statuses as (
    select
        account_id,
        stripe_subscription_id,
        is_active_on_as_of,
        current_period_end_at,
        case
            when
                not is_active_on_as_of
                and subscription_status in ({{ active_status_list }})
                then 'canceled'
            else subscription_status
        end as subscription_status
    from account_subscriptions
),

-- The account's status on as_of_date is its most live subscription's: active ones first, then by
-- how live the status is (ties: the smaller subscription id).
ranked_statuses as (
    select
        account_id,
        subscription_status,
        row_number() over (
            partition by account_id
            order by
                case when is_active_on_as_of then 0 else 1 end,
                case subscription_status
                    when 'active' then 1
                    when 'past_due' then 2
                    when 'trialing' then 3
                    when 'unpaid' then 4
                    when 'paused' then 5
                    when 'incomplete' then 6
                    when 'incomplete_expired' then 7
                    else 8
                end,
                stripe_subscription_id
        ) as liveness_rank
    from subscription_effective_statuses
),

renewals as (
    select
        account_id,
        min(cast(current_period_end_at as date)) as renewal_date
    from subscription_effective_statuses
    where is_active_on_as_of
    group by account_id
),

statuses_named as (
    select
        ranked_statuses.account_id,
        renewals.renewal_date,
        ranked_statuses.subscription_status
    from ranked_statuses
    left join renewals
        on ranked_statuses.account_id = renewals.account_id
    where ranked_statuses.liveness_rank = 1
),

as_of_day as (
    select
        spine.account_day_id,
        spine.account_id,
        spine.date_day,
        coalesce(active_item_totals.licensed_seats, 0) as licensed_seats,
        coalesce(active_item_totals.arr, 0) as arr,
        coalesce(active_item_totals.arr, 0) / 12 as mrr,
        statuses_named.renewal_date,
        coalesce(statuses_named.subscription_status, 'none') as subscription_status,
        'subscriptions' as billing_source
    from spine
    left join active_item_totals
        on spine.account_id = active_item_totals.account_id
    left join statuses_named
        on spine.account_id = statuses_named.account_id
    where spine.date_day = spine.as_of_date
),

unioned as (
    select * from past_days_with_status
    union all
    select * from as_of_day
),

final as (
    select
        account_day_id,
        account_id,
        date_day,
        cast(licensed_seats as {{ dbt.type_int() }}) as licensed_seats,
        -- Rounded to cents so that equal prices compare equal after interval normalisation.
        cast(round(cast(arr as {{ dbt.type_numeric() }}), 2) as {{ type_money() }}) as arr,
        cast(round(cast(mrr as {{ dbt.type_numeric() }}), 2) as {{ type_money() }}) as mrr,
        renewal_date,
        subscription_status,
        billing_source
    from unioned
)

select * from final
