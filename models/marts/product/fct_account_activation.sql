-- One row per account: did it reach the configured activation event (vars activation_event and
-- activation_milestone), when, and how many days after signup (its time to value).
-- Definitions: docs block `product__activation`.

{%- set event = var('activation_event') %}
{%- set milestone = var('activation_milestone') %}
{#- no milestone configured: any event of that name activates #}
{%- set milestone_condition = "milestone_name = '" ~ milestone ~ "'" if milestone else "1 = 1" %}

with

accounts as (
    select
        account_id,
        cast(created_at as date) as created_date
    from {{ ref('stg_crm__accounts') }}
),

-- The activation events attributed to an account (identity carries the event's name and
-- milestone, so the staged events are not parsed again).
activation_events as (
    select
        account_id,
        event_date
    from {{ ref('int_events_resolved_to_accounts') }}
    where
        event_name = '{{ event }}'
        and {{ milestone_condition }}
),

-- An account is activated on the first day any of its users sent the event.
activations as (
    select
        account_id,
        min(event_date) as activated_date
    from activation_events
    group by account_id
),

-- time to value in days (0 = the signup day); null when not activated or no signup date
timed as (
    select
        accounts.account_id,
        accounts.created_date,
        activations.activated_date,
        {{ dbt.datediff('accounts.created_date', 'activations.activated_date', 'day') }} as days_to_activation -- noqa: LT05
    from accounts
    left join activations
        on accounts.account_id = activations.account_id
),

final as (
    select
        account_id,
        created_date,
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as signup_month,
        activated_date,
        days_to_activation,
        case
            when created_date is null then 'unknown_signup'
            when activated_date is null then 'not_activated'
            when days_to_activation <= 30 then 'activated_within_30d'
            else 'activated_later'
        end as activation_status
    from timed
)

select * from final
