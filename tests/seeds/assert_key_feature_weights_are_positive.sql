-- Claim: every key feature weighs more than 0, so the adoption component (adopted features' weight
-- over all features' weight, int_usage_signals_rolled_to_account_days) is a share in [0, 1] and
-- no feature counts against adoption or leaves the share undefined.
select
    feature_name,
    weight
from {{ ref('key_features') }}
where weight <= 0
