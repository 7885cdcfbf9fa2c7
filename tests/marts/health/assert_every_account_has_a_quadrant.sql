-- Claim: every account in dim_accounts has a quadrant (none is left unplaced).
select account_id
from {{ ref('dim_accounts') }}
where quadrant is null
