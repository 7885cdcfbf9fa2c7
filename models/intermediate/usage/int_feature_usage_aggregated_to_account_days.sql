-- Use of each key feature (seeds/key_features.csv) per account per day, days with use only.

with

feature_events as (
    select
        account_id,
        user_id,
        event_date,
        feature_name
    from {{ ref('int_events_resolved_to_accounts') }}
    where feature_name is not null
),

final as (
    select
        {{ dbt.concat(['account_id', "'_'", 'feature_name', "'_'", 'cast(event_date as ' ~ dbt.type_string() ~ ')']) }}
            as account_feature_day_id,
        account_id,
        event_date as date_day,
        feature_name,
        count(*) as events,
        count(distinct user_id) as active_users
    from feature_events
    group by
        account_id,
        event_date,
        feature_name
)

select * from final
