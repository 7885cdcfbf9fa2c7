-- Claim: health_score is the documented weighted composite of the five CONTRACT components
-- (recency, adoption, depth, breadth, cs_engagement) with the config's weights, to the rounding:
-- sum(w x s) / sum(w) over the components that have data, null only when none has data.

with

expected as (

    select
        account_id,
        date_day,
        health_score,
        (
            coalesce(health_recency_weight * recency_score, 0)
            + coalesce(health_adoption_weight * adoption_score, 0)
            + coalesce(health_depth_weight * depth_score, 0)
            + coalesce(health_breadth_weight * breadth_score, 0)
            + coalesce(health_cs_engagement_weight * cs_engagement_score, 0)
        ) / nullif(
            case when recency_score is not null then health_recency_weight else 0 end
            + case when adoption_score is not null then health_adoption_weight else 0 end
            + case when depth_score is not null then health_depth_weight else 0 end
            + case when breadth_score is not null then health_breadth_weight else 0 end
            + case when cs_engagement_score is not null then health_cs_engagement_weight else 0 end,
            0
        ) as expected_health_score
    from {{ ref('int_health_components_scored') }}

)

select
    account_id,
    date_day,
    health_score,
    expected_health_score
from expected
where
    (health_score is null) <> (expected_health_score is null)
    or abs(health_score - expected_health_score) > 0.0501
