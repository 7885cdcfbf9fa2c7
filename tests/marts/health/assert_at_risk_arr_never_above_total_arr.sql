-- Claim: in every cell of mart_at_risk_arr, at-risk ARR and accounts never exceed the cell's totals.
select
    at_risk_arr_id,
    as_of_date,
    renewal_window,
    window_order,
    segment,
    accounts,
    at_risk_accounts,
    total_arr,
    at_risk_arr
from {{ ref('mart_at_risk_arr') }}
where at_risk_arr > total_arr or at_risk_accounts > accounts or at_risk_arr < 0
