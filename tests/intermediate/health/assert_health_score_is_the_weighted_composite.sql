-- Claim: health_score is the documented weighted composite of the five CONTRACT components
-- (recency, adoption, depth, breadth, cs_engagement) with the config's weights, to the rounding.
select
    account_id,
    date_day,
    health_score
from {{ ref('int_health_components_scored') }}
where abs(
    health_score - (
        health_recency_weight * recency_score
        + health_adoption_weight * adoption_score
        + health_depth_weight * depth_score
        + health_breadth_weight * breadth_score
        + health_cs_engagement_weight * cs_engagement_score
    )
) > 0.0501
