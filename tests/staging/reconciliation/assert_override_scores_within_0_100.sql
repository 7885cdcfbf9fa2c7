-- Claim: every staged CSM override score is on the 0-100 scale (null = not given).
select
    override_id,
    override_score
from {{ ref('stg_crm__health_overrides') }}
where override_score < 0 or override_score > 100
