-- Claim: for every segment, the health, usage and relationship weight sets each sum to 1.
select
    segment,
    health_recency_weight + health_adoption_weight + health_depth_weight + health_breadth_weight
    + health_cs_engagement_weight as health_weights,
    usage_recency_weight + usage_adoption_weight + usage_depth_weight + usage_breadth_weight as usage_weights,
    relationship_nps_weight + relationship_support_weight + relationship_cs_engagement_weight
    + relationship_sentiment_weight as relationship_weights,
    priority_health_weight + priority_arr_weight + priority_renewal_weight as priority_weights
from {{ ref('int_scoring_config_pivoted_to_segments') }}
where
    abs(
        health_recency_weight + health_adoption_weight + health_depth_weight + health_breadth_weight
        + health_cs_engagement_weight - 1
    ) > 0.000001
    or abs(usage_recency_weight + usage_adoption_weight + usage_depth_weight + usage_breadth_weight - 1) > 0.000001
    or abs(
        relationship_nps_weight + relationship_support_weight + relationship_cs_engagement_weight
        + relationship_sentiment_weight - 1
    ) > 0.000001
    or abs(priority_health_weight + priority_arr_weight + priority_renewal_weight - 1) > 0.000001
