-- One row per account that is deeply embedded in the product but whose health is deteriorating,
-- on the as-of date, ranked by ARR. Seed 001's question: "which of our high-ARR accounts are
-- deeply embedded in the product but still showing deteriorating health scores?"
-- Thresholds: seeds/scoring_config.csv, per segment. Definitions: docs block
-- `health__embedded_deteriorating`.

with

accounts as (
    select
        account_id,
        account_name,
        segment,
        csm_owner,
        as_of_date,
        arr,
        renewal_date,
        days_to_renewal,
        usage_score,
        relationship_score,
        health_score,
        health_band,
        health_score_delta_30d,
        quadrant,
        quadrant_status,
        is_at_risk
    from {{ ref('dim_accounts') }}
),

health_daily as (
    select
        account_id,
        date_day,
        recency_contribution_30d,
        adoption_contribution_30d,
        depth_contribution_30d,
        breadth_contribution_30d,
        cs_engagement_contribution_30d
    from {{ ref('fct_account_health_daily') }}
),

scoring_config as (
    select
        segment,
        embedded_usage_threshold,
        deteriorating_health_drop_points,
        high_arr_percentile
    from {{ ref('int_scoring_config_pivoted_to_segments') }}
),

-- ARR rank among accounts with known, positive ARR (unknown ARR is no rank, not the lowest).
arr_ranks as (
    select
        account_id,
        rank() over (order by arr desc) as arr_rank,
        percent_rank() over (order by arr) as arr_percentile
    from accounts
    where arr > 0
),

-- Embedded: usage at or above the threshold. Deteriorating: health fell by at least the drop in 30
-- days. An unknown usage or delta is neither.
embedded_deteriorating as (
    select
        accounts.*,
        scoring_config.high_arr_percentile
    from accounts
    inner join scoring_config
        on coalesce(accounts.segment, '*') = scoring_config.segment
    where
        accounts.usage_score >= scoring_config.embedded_usage_threshold
        and accounts.health_score_delta_30d <= -scoring_config.deteriorating_health_drop_points
),

today as (
    select health_daily.*
    from health_daily
    inner join embedded_deteriorating
        on
            health_daily.account_id = embedded_deteriorating.account_id
            and health_daily.date_day = embedded_deteriorating.as_of_date
),

-- Each component's share of the 30-day move (contributions add up to the delta), one row each.
components as (
    select
        account_id,
        'recency' as component_name,
        recency_contribution_30d as contribution
    from today
    union all
    select
        account_id,
        'adoption' as component_name,
        adoption_contribution_30d as contribution
    from today
    union all
    select
        account_id,
        'depth' as component_name,
        depth_contribution_30d as contribution
    from today
    union all
    select
        account_id,
        'breadth' as component_name,
        breadth_contribution_30d as contribution
    from today
    union all
    select
        account_id,
        'cs_engagement' as component_name,
        cs_engagement_contribution_30d as contribution
    from today
),

-- The component whose points fell most over the 30 days.
largest_declines as (
    select
        account_id,
        component_name,
        contribution,
        row_number() over (partition by account_id order by contribution, component_name) as decline_rank
    from components
    where contribution < 0
),

final as (
    select
        embedded_deteriorating.account_id,
        embedded_deteriorating.account_name,
        embedded_deteriorating.segment,
        embedded_deteriorating.csm_owner,
        embedded_deteriorating.as_of_date,
        embedded_deteriorating.arr,
        arr_ranks.arr_rank,
        arr_ranks.arr_percentile,
        case
            when arr_ranks.account_id is null then 'unknown'
            when arr_ranks.arr_percentile >= embedded_deteriorating.high_arr_percentile then 'high'
            else 'other'
        end as arr_band,
        embedded_deteriorating.renewal_date,
        embedded_deteriorating.days_to_renewal,
        embedded_deteriorating.usage_score,
        embedded_deteriorating.relationship_score,
        embedded_deteriorating.health_score,
        embedded_deteriorating.health_band,
        embedded_deteriorating.health_score_delta_30d,
        largest_declines.component_name as largest_decline_component,
        largest_declines.contribution as largest_decline_points,
        embedded_deteriorating.quadrant,
        embedded_deteriorating.quadrant_status,
        embedded_deteriorating.is_at_risk
    from embedded_deteriorating
    left join arr_ranks
        on embedded_deteriorating.account_id = arr_ranks.account_id
    left join largest_declines
        on
            embedded_deteriorating.account_id = largest_declines.account_id
            and largest_declines.decline_rank = 1
)

select * from final
