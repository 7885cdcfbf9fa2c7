-- Claim: in every cell of mart_at_risk_arr, the at-risk accounts and ARR split by at_risk_reason
-- (low_health, relationship_decline, override) add up to at_risk_accounts and at_risk_arr: each
-- at-risk account has exactly one reason.
select
    at_risk_arr_id,
    at_risk_accounts,
    at_risk_arr,
    low_health_accounts,
    relationship_decline_accounts,
    override_accounts,
    low_health_arr,
    relationship_decline_arr,
    override_arr
from {{ ref('mart_at_risk_arr') }}
where
    at_risk_accounts <> low_health_accounts + relationship_decline_accounts + override_accounts
    or abs(at_risk_arr - (low_health_arr + relationship_decline_arr + override_arr)) > 0.005
