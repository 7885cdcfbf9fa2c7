-- One row per month: the MRR bridge, NRR and GRR (monthly and trailing twelve months) and logo vs
-- revenue churn. Formulas: docs blocks `revenue__nrr`, `revenue__grr`, `revenue__churn_rates`.

with

account_months as (
    select
        month_start,
        mrr
    from {{ ref('int_mrr_aggregated_to_account_months') }}
),

movements as (
    select
        month_start,
        movement_type,
        mrr,
        previous_mrr,
        mrr_change
    from {{ ref('fct_mrr_movements') }}
),

trailing_windows as (
    select
        month_start,
        cast(ttm_starting_accounts as {{ dbt.type_bigint() }}) as ttm_starting_accounts,
        ttm_starting_mrr,
        ttm_net_retained_mrr,
        ttm_gross_retained_mrr,
        ttm_churned_accounts,
        ttm_churned_mrr
    from {{ ref('int_mrr_retention_aggregated_to_trailing_months') }}
),

-- Every month from the first subscription month to the as-of month, also months nobody paid in.
months as (
    select month_start
    from account_months
    group by month_start
),

bridge as (
    select
        month_start,
        sum(previous_mrr) as starting_mrr,
        sum(case when movement_type = 'new' then mrr_change else 0 end) as new_mrr,
        sum(case when movement_type = 'expansion' then mrr_change else 0 end) as expansion_mrr,
        -- Losses are stored as positive amounts: start + new + expansion + reactivation
        -- - contraction - churned = ending.
        sum(case when movement_type = 'contraction' then -mrr_change else 0 end) as contraction_mrr,
        sum(case when movement_type = 'churn' then -mrr_change else 0 end) as churned_mrr,
        sum(case when movement_type = 'reactivation' then mrr_change else 0 end) as reactivation_mrr,
        sum(mrr) as ending_mrr,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_accounts,
        sum(case when movement_type = 'new' then 1 else 0 end) as new_accounts,
        sum(case when movement_type = 'churn' then 1 else 0 end) as churned_accounts,
        sum(case when movement_type = 'reactivation' then 1 else 0 end) as reactivated_accounts,
        sum(case when mrr > 0 then 1 else 0 end) as ending_accounts
    from movements
    group by month_start
),

filled as (
    select
        months.month_start,
        coalesce(bridge.starting_mrr, 0) as starting_mrr,
        coalesce(bridge.new_mrr, 0) as new_mrr,
        coalesce(bridge.expansion_mrr, 0) as expansion_mrr,
        coalesce(bridge.contraction_mrr, 0) as contraction_mrr,
        coalesce(bridge.churned_mrr, 0) as churned_mrr,
        coalesce(bridge.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(bridge.ending_mrr, 0) as ending_mrr,
        coalesce(bridge.starting_accounts, 0) as starting_accounts,
        coalesce(bridge.new_accounts, 0) as new_accounts,
        coalesce(bridge.churned_accounts, 0) as churned_accounts,
        coalesce(bridge.reactivated_accounts, 0) as reactivated_accounts,
        coalesce(bridge.ending_accounts, 0) as ending_accounts,
        coalesce(trailing_windows.ttm_starting_accounts, 0) as ttm_starting_accounts,
        coalesce(trailing_windows.ttm_starting_mrr, 0) as ttm_starting_mrr,
        trailing_windows.ttm_net_retained_mrr,
        trailing_windows.ttm_gross_retained_mrr,
        trailing_windows.ttm_churned_accounts,
        trailing_windows.ttm_churned_mrr
    from months
    left join bridge
        on months.month_start = bridge.month_start
    left join trailing_windows
        on months.month_start = trailing_windows.month_start
),

-- Rates are null when their denominator is zero (nobody paid at the start of the window).
final as (
    select
        month_start,
        -- money numeric at the scale of mrr, rates doubles, on every engine (sums and coalesce
        -- widen numerics differently; unit tests compare values as text)
        cast(starting_mrr as {{ type_money() }}) as starting_mrr,
        cast(new_mrr as {{ type_money() }}) as new_mrr,
        cast(expansion_mrr as {{ type_money() }}) as expansion_mrr,
        cast(contraction_mrr as {{ type_money() }}) as contraction_mrr,
        cast(churned_mrr as {{ type_money() }}) as churned_mrr,
        cast(reactivation_mrr as {{ type_money() }}) as reactivation_mrr,
        cast(ending_mrr as {{ type_money() }}) as ending_mrr,
        cast(starting_accounts as {{ dbt.type_bigint() }}) as starting_accounts,
        cast(new_accounts as {{ dbt.type_bigint() }}) as new_accounts,
        cast(churned_accounts as {{ dbt.type_bigint() }}) as churned_accounts,
        cast(reactivated_accounts as {{ dbt.type_bigint() }}) as reactivated_accounts,
        cast(ending_accounts as {{ dbt.type_bigint() }}) as ending_accounts,
        {{ ratio('starting_mrr + expansion_mrr - contraction_mrr - churned_mrr', 'starting_mrr') }} as nrr,
        {{ ratio('starting_mrr - contraction_mrr - churned_mrr', 'starting_mrr') }} as grr,
        {{ ratio('churned_accounts', 'starting_accounts') }} as logo_churn_rate,
        {{ ratio('churned_mrr', 'starting_mrr') }} as revenue_churn_rate,
        cast(ttm_starting_accounts as {{ dbt.type_bigint() }}) as ttm_starting_accounts,
        cast(ttm_starting_mrr as {{ type_money() }}) as ttm_starting_mrr,
        {{ ratio('ttm_net_retained_mrr', 'ttm_starting_mrr') }} as nrr_ttm,
        {{ ratio('ttm_gross_retained_mrr', 'ttm_starting_mrr') }} as grr_ttm,
        {{ ratio('ttm_churned_accounts', 'ttm_starting_accounts') }} as logo_churn_rate_ttm,
        {{ ratio('ttm_churned_mrr', 'ttm_starting_mrr') }} as revenue_churn_rate_ttm
    from filled
)

select * from final
