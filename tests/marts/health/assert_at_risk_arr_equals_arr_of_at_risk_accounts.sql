-- Claim: mart_at_risk_arr's at-risk ARR (and accounts) summed over all windows and segments equals
-- the ARR (and count) of dim_accounts' at-risk accounts that renew; its total ARR equals theirs too.
with

mart as (

    select
        sum(at_risk_arr) as at_risk_arr,
        sum(total_arr) as total_arr,
        sum(at_risk_accounts) as at_risk_accounts
    from {{ ref('mart_at_risk_arr') }}

),

accounts as (

    select
        coalesce(sum(case when is_at_risk then arr else 0 end), 0) as at_risk_arr,
        coalesce(sum(arr), 0) as total_arr,
        sum(case when is_at_risk then 1 else 0 end) as at_risk_accounts
    from {{ ref('dim_accounts') }}
    where renewal_date is not null

)

select
    mart.at_risk_arr as mart_at_risk_arr,
    accounts.at_risk_arr as accounts_at_risk_arr,
    mart.total_arr as mart_total_arr,
    accounts.total_arr as accounts_total_arr
from mart
cross join accounts
where
    abs(coalesce(mart.at_risk_arr, 0) - accounts.at_risk_arr) > 0.005
    or abs(coalesce(mart.total_arr, 0) - accounts.total_arr) > 0.005
    or coalesce(mart.at_risk_accounts, 0) <> coalesce(accounts.at_risk_accounts, 0)
