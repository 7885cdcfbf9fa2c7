-- Things in the inputs that are not rejected records but change what the marts say: two
-- subscriptions of one account running at once, product usage with no subscription running, Stripe
-- revenue no CRM account receives, a configured key feature or milestone that never occurs.
-- One row per finding; the kinds and their rules: docs block `quality__finding_type`.
-- Cheap at scale: usage comes from the account-day table, and the event names from one filtered
-- pass over the identity table.

{%- set milestone = var('activation_milestone') %}
{%- set as_of_date = var('as_of_date') %}
{%- set active_status_list = "'" ~ var('active_subscription_statuses') | join("', '") ~ "'" %}
{%- set text = dbt.type_string() %}
{#- money as text with two decimals, the same digits on every engine #}
{%- set money_text = "cast(cast(round(cast({} as " ~ dbt.type_numeric() ~ "), 2) as decimal(18,2)) as " ~ text ~ ")" %}

with

accounts as (
    select
        account_id,
        stripe_customer_id
    from {{ ref('stg_crm__accounts') }}
),

-- Customers Stripe sent: an account naming one has known billing (as in dim_accounts.has_billing).
customers as (
    select stripe_customer_id
    from {{ ref('stg_stripe__customers') }}
),

subscriptions as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        subscription_status,
        started_at,
        created_at,
        canceled_at,
        ended_at
    from {{ ref('stg_stripe__subscriptions') }}
),

subscription_items as (
    select
        stripe_subscription_id,
        quantity,
        unit_amount,
        billing_interval,
        billing_interval_count
    from {{ ref('stg_stripe__subscription_items') }}
),

invoices as (
    select
        stripe_customer_id,
        total,
        created_at
    from {{ ref('stg_stripe__invoices') }}
    where invoice_status != 'void'
),

account_days as (
    select
        account_id,
        date_day,
        track_events
    from {{ ref('int_accounts_daily') }}
),

key_features as (
    select
        feature_name,
        event_name
    from {{ ref('key_features') }}
),

-- Every staged event, resolved or not (read once, by configured_events only).
events as (
    select
        event_name,
        milestone_name
    from {{ ref('int_events_matched_to_account_rules') }}
),

-- The events of the configured names only: one filtered pass over the events (a join to the few
-- key feature names rather than an `in` subquery, which Spark limits under `or`).
configured_events as (
    select
        events.event_name,
        case when events.event_name = 'onboarding.milestone_completed' then events.milestone_name end
            as milestone_name
    from events
    left join key_features
        on events.event_name = key_features.event_name
    where
        events.event_name = 'onboarding.milestone_completed'
        or key_features.event_name is not null
),

-- The run's reference date, as the account-day spine has it (var as_of_date, else the latest event
-- date); today when no account has a day.
as_of as (
    select
        coalesce(
            {% if as_of_date %}cast('{{ as_of_date }}' as date){% else %}cast(null as date){% endif %},
            max(date_day),
            cast({{ dbt.current_timestamp() }} as date)
        ) as as_of_date
    from account_days
),

-- The days a subscription runs, [start_date, end_date): a canceled one without ended_at ends when
-- it was canceled, no end = still running. An incomplete subscription never started.
subscription_periods as (
    select
        stripe_subscription_id,
        stripe_customer_id,
        cast(coalesce(started_at, created_at) as date) as start_date,
        cast(
            coalesce(ended_at, case when subscription_status = 'canceled' then canceled_at end) as date
        ) as end_date
    from subscriptions
    where
        subscription_status not in ('incomplete', 'incomplete_expired')
        and coalesce(started_at, created_at) is not null
),

account_subscription_periods as (
    select
        accounts.account_id,
        subscription_periods.stripe_subscription_id,
        subscription_periods.start_date,
        subscription_periods.end_date
    from subscription_periods
    inner join accounts
        on subscription_periods.stripe_customer_id = accounts.stripe_customer_id
    -- a subscription that ended the day it started runs on no day
    where subscription_periods.end_date is null or subscription_periods.end_date > subscription_periods.start_date
),

-- Every pair of an account's subscriptions (smaller id first) whose periods share a day up to as_of_date.
overlapping_pairs as (
    select
        first_subscription.account_id,
        first_subscription.stripe_subscription_id as first_subscription_id,
        second_subscription.stripe_subscription_id as second_subscription_id,
        case
            when first_subscription.start_date >= second_subscription.start_date
                then first_subscription.start_date
            else second_subscription.start_date
        end as overlap_start_date,
        -- exclusive; null while both still run
        case
            when first_subscription.end_date is null then second_subscription.end_date
            when second_subscription.end_date is null then first_subscription.end_date
            when first_subscription.end_date <= second_subscription.end_date then first_subscription.end_date
            else second_subscription.end_date
        end as overlap_end_date
    from account_subscription_periods as first_subscription
    inner join account_subscription_periods as second_subscription
        on
            first_subscription.account_id = second_subscription.account_id
            and first_subscription.stripe_subscription_id < second_subscription.stripe_subscription_id
            and (
                second_subscription.end_date is null
                or first_subscription.start_date < second_subscription.end_date
            )
            and (
                first_subscription.end_date is null
                or first_subscription.end_date > second_subscription.start_date
            )
),

overlaps_until_as_of as (
    select
        overlapping_pairs.account_id,
        overlapping_pairs.first_subscription_id,
        overlapping_pairs.second_subscription_id,
        overlapping_pairs.overlap_start_date,
        -- a running overlap is counted up to as_of_date, that day included
        case
            when
                overlapping_pairs.overlap_end_date is null
                or overlapping_pairs.overlap_end_date > as_of.as_of_date
                then cast({{ dbt.dateadd('day', 1, 'as_of.as_of_date') }} as date)
            else overlapping_pairs.overlap_end_date
        end as overlap_until_date,
        overlapping_pairs.overlap_end_date is null as is_running
    from overlapping_pairs
    cross join as_of
    where overlapping_pairs.overlap_start_date <= as_of.as_of_date
),

overlaps_counted as (
    select
        account_id,
        first_subscription_id,
        second_subscription_id,
        overlap_start_date,
        cast({{ dbt.dateadd('day', -1, 'overlap_until_date') }} as date) as overlap_last_date,
        {{ dbt.datediff('overlap_start_date', 'overlap_until_date', 'day') }} as overlap_days, -- noqa: LT05
        is_running
    from overlaps_until_as_of
),

-- Days with product use: a track event of a resolved user, what makes a user active (CONTRACT 3).
usage_days as (
    select
        account_id,
        date_day
    from account_days
    where track_events > 0
),

usage_day_coverage as (
    select
        usage_days.account_id,
        usage_days.date_day,
        count(account_subscription_periods.stripe_subscription_id) as running_subscriptions
    from usage_days
    left join account_subscription_periods
        on
            usage_days.account_id = account_subscription_periods.account_id
            and usage_days.date_day >= account_subscription_periods.start_date
            and (
                account_subscription_periods.end_date is null
                or usage_days.date_day < account_subscription_periods.end_date
            )
    group by
        usage_days.account_id,
        usage_days.date_day
),

usage_outside_subscriptions as (
    select
        usage_day_coverage.account_id,
        count(*) as uncovered_days,
        min(usage_day_coverage.date_day) as first_date,
        max(usage_day_coverage.date_day) as last_date
    from usage_day_coverage
    where usage_day_coverage.running_subscriptions = 0
    group by usage_day_coverage.account_id
),

-- Only accounts with known billing: without it ARR is unknown (dim_accounts), not a finding.
usage_outside_billed_accounts as (
    select
        usage_outside_subscriptions.account_id,
        usage_outside_subscriptions.uncovered_days,
        usage_outside_subscriptions.first_date,
        usage_outside_subscriptions.last_date
    from usage_outside_subscriptions
    inner join accounts
        on usage_outside_subscriptions.account_id = accounts.account_id
    inner join customers
        on accounts.stripe_customer_id = customers.stripe_customer_id
),

-- Customers that subscriptions or non-void invoices name, with the first and last day of either.
customer_billing_dates as (
    select
        stripe_customer_id,
        cast(coalesce(started_at, created_at) as date) as billing_date
    from subscriptions
    union all
    select
        stripe_customer_id,
        cast(created_at as date) as billing_date
    from invoices
),

unlinked_customers as (
    select
        customer_billing_dates.stripe_customer_id,
        min(customer_billing_dates.billing_date) as first_date,
        max(customer_billing_dates.billing_date) as last_date
    from customer_billing_dates
    left join accounts
        on customer_billing_dates.stripe_customer_id = accounts.stripe_customer_id
    where
        customer_billing_dates.stripe_customer_id is not null
        and accounts.account_id is null
    group by customer_billing_dates.stripe_customer_id
),

-- ARR of a customer's subscriptions active on as_of_date, annualised by the billing model's
-- item_arr (what the marts would count if an account named it).
active_subscription_arr as (
    select
        subscriptions.stripe_customer_id,
        count(distinct subscriptions.stripe_subscription_id) as active_subscriptions,
        sum({{ item_arr('subscription_items') }}) as arr
    from subscriptions
    cross join as_of
    inner join subscription_items
        on subscriptions.stripe_subscription_id = subscription_items.stripe_subscription_id
    where
        subscriptions.subscription_status in ({{ active_status_list }})
        and (subscriptions.ended_at is null or cast(subscriptions.ended_at as date) > as_of.as_of_date)
    group by subscriptions.stripe_customer_id
),

customer_invoice_totals as (
    select
        stripe_customer_id,
        count(*) as invoice_count,
        sum(total) as invoiced_amount
    from invoices
    group by stripe_customer_id
),

unlinked_customer_revenue as (
    select
        unlinked_customers.stripe_customer_id,
        unlinked_customers.first_date,
        unlinked_customers.last_date,
        coalesce(active_subscription_arr.active_subscriptions, 0) as active_subscriptions,
        cast(round(cast(coalesce(active_subscription_arr.arr, 0) as {{ dbt.type_numeric() }}), 2) as {{ type_money() }})
            as arr,
        coalesce(customer_invoice_totals.invoice_count, 0) as invoice_count,
        cast(coalesce(customer_invoice_totals.invoiced_amount, 0) as {{ type_money() }}) as invoiced_amount
    from unlinked_customers
    left join active_subscription_arr
        on unlinked_customers.stripe_customer_id = active_subscription_arr.stripe_customer_id
    left join customer_invoice_totals
        on unlinked_customers.stripe_customer_id = customer_invoice_totals.stripe_customer_id
),

seen_event_names as (
    select
        event_name,
        count(*) as events
    from configured_events
    group by event_name
),

key_features_not_seen as (
    select
        key_features.feature_name,
        key_features.event_name
    from key_features
    left join seen_event_names
        on key_features.event_name = seen_event_names.event_name
    where seen_event_names.event_name is null
),

configured_milestones as (
    select cast('{{ milestone }}' as {{ text }}) as milestone_name
),

seen_milestones as (
    select
        milestone_name,
        count(*) as events
    from configured_events
    where milestone_name is not null
    group by milestone_name
),

milestones_not_seen as (
    select configured_milestones.milestone_name
    from configured_milestones
    left join seen_milestones
        on configured_milestones.milestone_name = seen_milestones.milestone_name
    where seen_milestones.milestone_name is null
),

findings as (
    select
        'overlapping_subscriptions' as finding_type,
        account_id,
        {{ dbt.concat(['first_subscription_id', "' + '", 'second_subscription_id']) }} as subject,
        {{ dbt.concat([
            "'subscriptions '", 'first_subscription_id', "' and '", 'second_subscription_id',
            "' run at the same time from '", 'cast(overlap_start_date as ' ~ text ~ ')', "' to '",
            'cast(overlap_last_date as ' ~ text ~ ')',
            "case when is_running then ' (still running)' else '' end", "': '",
            'cast(overlap_days as ' ~ text ~ ')', "' day(s) on which ARR and seats count both'",
        ]) }} as detail,
        overlap_start_date as period_start_date,
        overlap_last_date as period_end_date,
        overlap_days as affected_days,
        cast(null as {{ type_money() }}) as arr,
        cast(null as {{ type_money() }}) as invoiced_amount
    from overlaps_counted

    union all

    select
        'usage_outside_subscription' as finding_type,
        account_id,
        account_id as subject,
        {{ dbt.concat([
            'cast(uncovered_days as ' ~ text ~ ')',
            "' day(s) with product use (track events) and no subscription running, from '",
            'cast(first_date as ' ~ text ~ ')', "' to '", 'cast(last_date as ' ~ text ~ ')',
        ]) }} as detail,
        first_date as period_start_date,
        last_date as period_end_date,
        uncovered_days as affected_days,
        cast(null as {{ type_money() }}) as arr,
        cast(null as {{ type_money() }}) as invoiced_amount
    from usage_outside_billed_accounts

    union all

    select
        'stripe_customer_without_account' as finding_type,
        cast(null as {{ text }}) as account_id,
        stripe_customer_id as subject,
        {{ dbt.concat([
            "'Stripe customer '", 'stripe_customer_id', "' is named by no CRM account, so no mart counts it: ARR '",
            money_text.format('arr'), "' (MRR '", money_text.format('arr / 12'), "') from '",
            'cast(active_subscriptions as ' ~ text ~ ')', "' active subscription(s); '",
            money_text.format('invoiced_amount'), "' invoiced in '", 'cast(invoice_count as ' ~ text ~ ')',
            "' non-void invoice(s)'",
        ]) }} as detail,
        first_date as period_start_date,
        last_date as period_end_date,
        cast(null as {{ dbt.type_int() }}) as affected_days,
        arr,
        invoiced_amount
    from unlinked_customer_revenue

    union all

    select
        'key_feature_not_seen' as finding_type,
        cast(null as {{ text }}) as account_id,
        feature_name as subject,
        {{ dbt.concat([
            "'key feature '", 'feature_name', "' (seeds/key_features.csv): no staged event is named '", 'event_name',
            "', so no account is ever counted as using it'",
        ]) }} as detail,
        cast(null as date) as period_start_date,
        cast(null as date) as period_end_date,
        cast(null as {{ dbt.type_int() }}) as affected_days,
        cast(null as {{ type_money() }}) as arr,
        cast(null as {{ type_money() }}) as invoiced_amount
    from key_features_not_seen

    union all

    select
        'milestone_not_seen' as finding_type,
        cast(null as {{ text }}) as account_id,
        milestone_name as subject,
        {{ dbt.concat([
            "'activation milestone '", 'milestone_name',
            "' (var activation_milestone): no staged onboarding.milestone_completed event names it, "
            ~ "so no account is ever activated'",
        ]) }} as detail,
        cast(null as date) as period_start_date,
        cast(null as date) as period_end_date,
        cast(null as {{ dbt.type_int() }}) as affected_days,
        cast(null as {{ type_money() }}) as arr,
        cast(null as {{ type_money() }}) as invoiced_amount
    from milestones_not_seen
),

final as (
    select
        {{ dbt.hash(dbt.concat([
            'findings.finding_type', "'|'", "coalesce(findings.account_id, '')", "'|'", 'findings.subject',
        ])) }} as finding_id,
        findings.finding_type,
        findings.account_id,
        findings.subject,
        findings.detail,
        as_of.as_of_date as observed_on,
        findings.period_start_date,
        findings.period_end_date,
        cast(findings.affected_days as {{ dbt.type_int() }}) as affected_days,
        findings.arr,
        findings.invoiced_amount
    from findings
    cross join as_of
)

select * from final
