-- Every day of every account from its first day (CRM created_at, or its first resolved event when
-- earlier or created_at is missing) to the run's as_of_date, so quiet days are rows of zeros downstream.
-- A table, not a view: its as_of_date reads every staged event and its first days every resolved
-- event; the usage model and the account-day tests read the spine, which should be computed once.
{{ config(materialized='table') }}

{%- set as_of_date = var('as_of_date') %}
{#- Upper bound of the day spine per account: 20 years of days, never reached by real accounts. #}
{%- set max_spine_days = 7320 %}

with

accounts as (
    select
        account_id,
        cast(created_at as date) as created_date
    from {{ ref('stg_crm__accounts') }}
),

-- Every valid staged event, one row each, already with its UTC date: reading the identity table
-- instead of stg_product__events spares a parse of every raw timestamp.
events as (
    select event_date
    from {{ ref('int_events_matched_to_account_rules') }}
),

resolved_events as (
    select
        account_id,
        event_date
    from {{ ref('int_events_resolved_to_accounts') }}
),

latest_event as (
    select max(event_date) as latest_event_date
    from events
),

-- The run's reference date: var as_of_date, else the latest event date (CONTRACT section 3), else
-- today when the drop has no events at all.
as_of as (
    select
        coalesce(
            {% if as_of_date %}cast('{{ as_of_date }}' as date){% else %}cast(null as date){% endif %},
            latest_event.latest_event_date,
            cast({{ dbt.current_timestamp() }} as date)
        ) as as_of_date
    from latest_event
),

first_days_candidates as (
    select
        account_id,
        created_date as first_date
    from accounts
    union all
    select
        account_id,
        min(event_date) as first_date
    from resolved_events
    group by account_id
),

account_first_days as (
    select
        accounts.account_id,
        min(first_days_candidates.first_date) as first_date
    from accounts
    inner join first_days_candidates
        on accounts.account_id = first_days_candidates.account_id
    group by accounts.account_id
),

day_offsets as (
    {{ dbt.generate_series(max_spine_days) }}
),

account_days as (
    select
        account_first_days.account_id,
        cast(
            {{ dbt.dateadd('day', 'day_offsets.generated_number - 1', 'account_first_days.first_date') }}
            as date
        ) as date_day,
        as_of.as_of_date
    from account_first_days
    cross join as_of
    inner join day_offsets
        on
            day_offsets.generated_number - 1
            <= {{ dbt.datediff('account_first_days.first_date', 'as_of.as_of_date', 'day') }}
),

final as (
    select
        {{ dbt.concat(['account_id', "'_'", 'cast(date_day as ' ~ dbt.type_string() ~ ')']) }}
            as account_day_id,
        account_id,
        date_day,
        as_of_date
    from account_days
)

select * from final
