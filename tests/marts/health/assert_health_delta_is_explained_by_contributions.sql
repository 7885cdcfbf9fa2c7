-- Claim: the 30-day health move is explained: health_score_delta_30d equals the sum of the five
-- component contributions (each component's points in health_score under the weights in effect
-- that day, today minus 30 days earlier), up to the rounding of the two scores (0.05 each). Every
-- contribution is known when the move is: a component without data contributes 0 points, not null.
select
    account_id,
    date_day,
    health_score_delta_30d
from {{ ref('fct_account_health_daily') }}
where
    health_score_delta_30d is not null
    and (
        recency_contribution_30d is null
        or adoption_contribution_30d is null
        or depth_contribution_30d is null
        or breadth_contribution_30d is null
        or cs_engagement_contribution_30d is null
        or abs(
            health_score_delta_30d
            - (
                recency_contribution_30d + adoption_contribution_30d + depth_contribution_30d
                + breadth_contribution_30d + cs_engagement_contribution_30d
            )
        ) > 0.1001
    )
