-- Events attributed to exactly one account, with the rule that attributed them. Key features are
-- looked up here once so that every usage model counts them the same way.

with

matched_events as (
    select
        event_id,
        account_id,
        user_id,
        anonymous_id,
        event_at,
        event_date,
        message_type,
        event_name,
        gated_feature_name,
        milestone_name,
        quota_name,
        quota_threshold_pct,
        resolution_rule,
        _built_at
    from {{ ref('int_events_matched_to_account_rules') }}
    where account_id is not null
),

key_features as (
    select
        feature_name,
        event_name
    from {{ ref('key_features') }}
),

final as (
    select
        matched_events.event_id,
        matched_events.account_id,
        matched_events.user_id,
        matched_events.anonymous_id,
        matched_events.event_at,
        matched_events.event_date,
        matched_events.message_type,
        matched_events.event_name,
        -- Only track events use a key feature (seeds/key_features.csv).
        case when matched_events.message_type = 'track' then key_features.feature_name end as feature_name,
        matched_events.gated_feature_name,
        matched_events.milestone_name,
        matched_events.quota_name,
        matched_events.quota_threshold_pct,
        matched_events.resolution_rule,
        -- the run that resolved the event: an incremental run's data tests read its rows only
        matched_events._built_at
    from matched_events
    left join key_features
        on matched_events.event_name = key_features.event_name
)

select * from final
