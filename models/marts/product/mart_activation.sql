-- One row per signup cohort (month of the account's CRM created_at): how many accounts reached the
-- configured activation event (fct_account_activation), whether within 30 days, and the time to
-- value: median and quartiles besides the mean, since a few slow accounts move a mean a long way.
-- Definitions: docs block `product__activation`.

with

account_activations as (
    select
        signup_month,
        activated_date,
        days_to_activation
    from {{ ref('fct_account_activation') }}
    where activation_status <> 'unknown_signup'
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
        avg(cast(days_to_activation as {{ type_double() }})) as avg_days_to_activation,
        cast(
            percentile_cont(0.5) within group (order by days_to_activation) as {{ type_double() }}
        ) as median_days_to_activation,
        cast(
            percentile_cont(0.25) within group (order by days_to_activation) as {{ type_double() }}
        ) as p25_days_to_activation,
        cast(
            percentile_cont(0.75) within group (order by days_to_activation) as {{ type_double() }}
        ) as p75_days_to_activation,
        min(days_to_activation) as min_days_to_activation,
        max(days_to_activation) as max_days_to_activation
    from account_activations
    group by signup_month
)

select * from final
