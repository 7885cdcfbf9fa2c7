-- One row per configured key feature (seeds/key_features.csv): whether any track event attributed
-- to an account carries it, and how much. When none is seen, the list names another product's
-- events: adoption and depth are then unknown, not 0 (int_health_components_scored), and the run
-- summary can say so by reading this small table instead of the events.
{{ config(materialized='table') }}

with

key_features as (

    select
        feature_name,
        event_name,
        cast(weight as {{ dbt.type_numeric() }}) as feature_weight
    from {{ ref('key_features') }}

),

-- the events adoption and depth can count: track events resolved to an account
feature_events as (

    select
        feature_name,
        count(*) as events,
        count(distinct account_id) as accounts,
        min(event_date) as first_seen_on,
        max(event_date) as last_seen_on
    from {{ ref('int_events_resolved_to_accounts') }}
    where feature_name is not null
    group by feature_name

),

final as (

    select
        key_features.feature_name,
        key_features.event_name,
        key_features.feature_weight,
        cast(coalesce(feature_events.events, 0) as {{ dbt.type_bigint() }}) as events,
        cast(coalesce(feature_events.accounts, 0) as {{ dbt.type_bigint() }}) as accounts,
        feature_events.first_seen_on,
        feature_events.last_seen_on,
        feature_events.feature_name is not null as is_seen
    from key_features
    left join feature_events
        on key_features.feature_name = feature_events.feature_name

)

select * from final
