-- Claim: the 30-day health move is explained: health_score_delta_30d equals the sum of the five
-- component contributions, up to the rounding of the two scores (0.05 each).
select
    account_id,
    date_day,
    health_score_delta_30d
from {{ ref('fct_account_health_daily') }}
where
    health_score_delta_30d is not null
    and abs(
        health_score_delta_30d
        - (
            recency_contribution_30d + adoption_contribution_30d + depth_contribution_30d
            + breadth_contribution_30d + cs_engagement_contribution_30d
        )
    ) > 0.1001
