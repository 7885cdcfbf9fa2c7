-- Every account's MRR on the first day of every month from its first subscription month to the
-- as-of month, zeros included (fct_mrr_movements keeps only the months that carry a movement).
-- A table, not a view: five data tests and three models read it, and each read of a view would
-- compute the month spine again.
{{ config(materialized='table') }}

{%- set as_of_date = var('as_of_date') %}
{#- Upper bound of the month spine: 100 years of months per account is never reached. #}
{%- set max_months = 1200 %}

with

recurring_lines as (
    select
        account_id,
        line_mrr,
        period_start_date,
        period_end_date
    from {{ ref('int_recurring_invoice_lines_normalised') }}
),

-- Every valid staged event's UTC date: the identity table has them already, where
-- stg_product__events (a view) would parse every raw timestamp again.
events as (
    select event_date
    from {{ ref('int_events_matched_to_account_rules') }}
),

latest_event as (
    select max(event_date) as latest_event_date
    from events
),

latest_line as (
    select max(period_start_date) as latest_period_start_date
    from recurring_lines
),

-- The run's reference date: var as_of_date, else the latest event date (CONTRACT section 3), else
-- the latest billing period start when the drop has no events at all.
as_of as (
    select
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month
    from (
        select
            coalesce(
                {% if as_of_date %}cast('{{ as_of_date }}' as date){% else %}cast(null as date){% endif %},
                latest_event.latest_event_date,
                latest_line.latest_period_start_date
            ) as as_of_date
        from latest_event
        cross join latest_line
    ) as reference_date
),

-- An account's spine starts in the month of its earliest recurring line.
account_first_months as (
    select
        account_id,
        cast({{ dbt.date_trunc('month', 'min(period_start_date)') }} as date) as first_month
    from recurring_lines
    group by account_id
),

month_offsets as (
    {{ dbt.generate_series(max_months) }}
),

account_months as (
    select
        account_first_months.account_id,
        cast(
            {{ dbt.dateadd('month', 'month_offsets.generated_number - 1', 'account_first_months.first_month') }}
            as date
        ) as month_start
    from account_first_months
    cross join as_of
    inner join month_offsets
        on
            month_offsets.generated_number - 1
            <= {{ dbt.datediff('account_first_months.first_month', 'as_of.as_of_month', 'month') }}
),

-- A line counts on every day of [period_start_date, period_end_date); a month's MRR is its first day's.
mrr_on_first_days as (
    select
        account_months.account_id,
        account_months.month_start,
        sum(coalesce(recurring_lines.line_mrr, 0)) as mrr
    from account_months
    left join recurring_lines
        on
            account_months.account_id = recurring_lines.account_id
            and account_months.month_start >= recurring_lines.period_start_date
            and account_months.month_start < recurring_lines.period_end_date
    group by
        account_months.account_id,
        account_months.month_start
),

final as (
    select
        {{ dbt.concat(['account_id', "'_'", 'cast(month_start as ' ~ dbt.type_string() ~ ')']) }} as account_month_id,
        account_id,
        month_start,
        -- Rounded to cents so that equal prices compare equal after interval normalisation.
        cast(round(mrr, 2) as {{ type_money() }}) as mrr
    from mrr_on_first_days
)

select * from final
