with

checked as (
    select * from {{ ref('base_product__events') }}
),

final as (
    select
        event_id,
        message_type,
        event_name,
        user_id,
        anonymous_id,
        context_group_id,
        group_id,
        email,
        feature_name,
        milestone_name,
        quota_name,
        quota_threshold_pct,
        properties,
        traits,
        event_at,
        received_at,
        -- when and from which file dlt landed the row: the identity models' high-water mark
        loaded_at,
        source_file
    from checked
    where rejection_reason is null
)

select * from final
