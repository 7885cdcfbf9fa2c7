-- One row per signup cohort (month of the account's CRM created_at): how many accounts reached the
-- activation milestone (var activation_milestone), how fast, and whether within 30 days.
-- Definitions: docs block `product__activation`.

{%- set milestone = var('activation_milestone') %}

with

accounts as (
    select
        account_id,
        cast(created_at as date) as created_date
    from {{ ref('stg_crm__accounts') }}
    where created_at is not null
),

-- The milestone completions attributed to an account (identity carries the event's name and
-- milestone, so the staged events are not parsed again).
milestone_events as (
    select
        account_id,
        event_date
    from {{ ref('int_events_resolved_to_accounts') }}
    where
        event_name = 'onboarding.milestone_completed'
        and milestone_name = '{{ milestone }}'
),

-- An account is activated on the first day any of its users completed the milestone.
activations as (
    select
        account_id,
        min(event_date) as activated_date
    from milestone_events
    group by account_id
),

account_activations as (
    select
        accounts.account_id,
        cast({{ dbt.date_trunc('month', 'accounts.created_date') }} as date) as signup_month,
        activations.activated_date,
        {{ dbt.datediff('accounts.created_date', 'activations.activated_date', 'day') }} as days_to_activation -- noqa: LT05
    from accounts
    left join activations
        on accounts.account_id = activations.account_id
),

final as (
    select
        signup_month,
        count(*) as accounts, -- noqa: RF04
        count(activated_date) as activated_accounts,
        cast(
            sum(case when days_to_activation <= 30 then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as activated_within_30d,
        -- doubles on every engine (PostgreSQL's numeric division would carry 20 decimals)
        cast(count(activated_date) as {{ type_double() }}) / count(*) as activation_rate,
        cast(
            sum(case when days_to_activation <= 30 then 1 else 0 end) as {{ type_double() }}
        ) / count(*) as activation_rate_30d,
        avg(cast(days_to_activation as {{ type_double() }})) as avg_days_to_activation
    from account_activations
    group by signup_month
)

select * from final
