-- Claim: every account in dim_accounts is placed or says why not: a null quadrant always has a
-- quadrant_status naming the unknown axis (or not_scored), and a quadrant is always `assigned`.
select
    account_id,
    quadrant,
    quadrant_status
from {{ ref('dim_accounts') }}
where
    (quadrant is null and coalesce(quadrant_status, 'assigned') = 'assigned')
    or (quadrant is not null and coalesce(quadrant_status, '') <> 'assigned')
