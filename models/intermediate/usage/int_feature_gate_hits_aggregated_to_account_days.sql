-- Feature-gate hits (track `feature_gate.hit`, properties.feature = the gated feature) per account
-- per day per gated feature, days with hits only. An expansion signal: users reach for paid features.

with

gate_hits as (
    select
        account_id,
        user_id,
        event_date,
        coalesce(gated_feature_name, 'unknown') as gated_feature_name
    from {{ ref('int_events_resolved_to_accounts') }}
    where message_type = 'track' and event_name = 'feature_gate.hit'
),

final as (
    select
        {{ dbt.concat([
            'account_id', "'_'", 'gated_feature_name', "'_'", 'cast(event_date as ' ~ dbt.type_string() ~ ')'
        ]) }} as account_gate_day_id,
        account_id,
        event_date as date_day,
        gated_feature_name,
        count(*) as feature_gate_hits,
        count(distinct user_id) as users_hitting_gate
    from gate_hits
    group by
        account_id,
        event_date,
        gated_feature_name
)

select * from final
