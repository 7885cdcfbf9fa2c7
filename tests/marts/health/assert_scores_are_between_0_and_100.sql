-- Claim: every score of fct_account_health_daily lies in 0-100.
{%- set scores = [
    'recency_score', 'adoption_score', 'depth_score', 'breadth_score', 'cs_engagement_score',
    'nps_score', 'support_score', 'sentiment_score', 'usage_score', 'relationship_score', 'health_score',
] %}
{%- set out_of_range = [] %}
{%- for score in scores %}
    {%- do out_of_range.append(score ~ ' < 0 or ' ~ score ~ ' > 100') %}
{%- endfor %}
select
    account_id,
    date_day
from {{ ref('fct_account_health_daily') }}
where
    {{ out_of_range | join('\n    or ') }}
