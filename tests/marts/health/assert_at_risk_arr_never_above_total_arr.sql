-- Claim: in every cell of mart_at_risk_arr, at-risk ARR and accounts never exceed the cell's totals.
select *
from {{ ref('mart_at_risk_arr') }}
where at_risk_arr > total_arr or at_risk_accounts > accounts or at_risk_arr < 0
