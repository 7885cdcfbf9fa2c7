-- One row per account per day: the product-side inputs of the health components, rolled over the
-- windows the scores use. Rolling windows are row windows because int_accounts_daily is a dense
-- daily spine per account (docs/ARCHITECTURE.md).
-- Incremental by day (issue 9; macros/cross_db/day_grain_incremental.sql): each row keeps a
-- fingerprint of its day's inputs (the int_accounts_daily columns read here and the key_features
-- seed); a run finds the first account-day whose fingerprint changed, re-reads 30 days before it for
-- the 30-day windows, carries the last active day and the source's last event day from the built
-- rows before that, and replaces the days from the changed one on. A key_features change changes
-- every fingerprint: everything is rebuilt. Feature use per day is not fingerprinted: it moves only
-- with the account-day's events, which are. output_fingerprint (the row's values) is what
-- int_health_components_scored compares. A table on Spark (no delete or merge).
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy=day_grain_incremental_strategy(),
        unique_key='account_day_id',
        on_schema_change='append_new_columns',
    )
}}
{%- set window_days = 30 %}

{%- set key_features_fingerprint_sql %}
    {{ day_grain_config_fingerprint(ref('key_features'), ['feature_name', 'weight']) }}
{%- endset %}
{%- set current_inputs_sql %}
    select
        accounts_daily.account_id,
        accounts_daily.date_day,
        {{ day_grain_fingerprint([
            'accounts_daily.events', 'accounts_daily.track_events', 'accounts_daily.feature_gate_hits',
            'accounts_daily.quota_threshold_events', 'accounts_daily.top_user_event_share',
            'accounts_daily.active_users_30d', 'accounts_daily.licensed_seats',
            'accounts_daily.active_user_ratio_30d', 'key_features_fingerprint.config_fingerprint',
        ]) }} as input_fingerprint
    from {{ ref('int_accounts_daily') }} as accounts_daily
    cross join key_features_fingerprint
{%- endset %}
{#- The first changed day is queried once before the model runs and written below as a literal
    (macros/incremental/incremental_start_date.sql): only a literal filter reaches below the
    feature-day view's group-by, which otherwise aggregated every event on every run (issue 9). #}
{%- set reprocess_from = incremental_start_date(
    'with key_features_fingerprint as (' ~ key_features_fingerprint_sql ~ '), current_inputs as ('
    ~ current_inputs_sql ~ ') ' ~ day_grain_reprocess_window('current_inputs')
) if is_incremental() else '1900-01-01' %}
{#- A literal on an incremental run, joined from reprocess_window in a full build (reprocess_from_bound). #}
{%- set features_from = reprocess_from_bound(reprocess_from, is_incremental(), days_before=window_days) %}
{%- set window_join = reprocess_window_join(is_incremental()) %}

with

key_features_fingerprint as (
    {{ key_features_fingerprint_sql }}
),

current_inputs as (
    {{ current_inputs_sql }}
    {#- an incremental run writes the days from reprocess_from on: only theirs are needed #}
    {%- if is_incremental() %}
    where accounts_daily.date_day >= {{ reprocess_from_bound(reprocess_from, true) }}
    {%- endif %}
),

reprocess_window as (

    select cast('{{ reprocess_from }}' as date) as reprocess_from_date

),

-- The running values of the days before the re-read stretch, as built.
prior_rows as (

    select
        built.account_id,
        max(built.last_active_date) as last_active_date,
        max(built.source_last_event_date) as source_last_event_date
    from {{ day_grain_built_rows([
        ('account_id', dbt.type_string()), ('date_day', 'date'),
        ('last_active_date', 'date'), ('source_last_event_date', 'date'),
    ]) }} as built
    cross join reprocess_window
    where built.date_day < {{ dbt.dateadd('day', -window_days, 'reprocess_window.reprocess_from_date') }}
    group by built.account_id

),

prior_source as (

    select max(source_last_event_date) as source_last_event_date from prior_rows

),

accounts_daily as (

    select
        accounts_daily.account_id,
        accounts_daily.date_day,
        accounts_daily.events,
        accounts_daily.track_events,
        accounts_daily.feature_gate_hits,
        accounts_daily.quota_threshold_events,
        accounts_daily.top_user_event_share,
        accounts_daily.active_users_30d,
        accounts_daily.licensed_seats,
        accounts_daily.active_user_ratio_30d
    from {{ ref('int_accounts_daily') }} as accounts_daily
    cross join reprocess_window
    where
        accounts_daily.date_day
        >= {{ dbt.dateadd('day', -window_days, 'reprocess_window.reprocess_from_date') }}

),

feature_usage as (

    select
        feature_days.account_id,
        feature_days.date_day,
        feature_days.feature_name,
        feature_days.events
    from {{ ref('int_feature_usage_aggregated_to_account_days') }} as feature_days
    {{ window_join }}
    where feature_days.date_day >= {{ features_from }}

),

key_features as (

    select
        feature_name,
        cast(weight as {{ dbt.type_numeric() }}) as feature_weight
    from {{ ref('key_features') }}

),

key_feature_total_weight as (

    select sum(feature_weight) as total_weight from key_features

),

-- Key features over the 30 days ending on date_day (day 30 in, day 31 out), without a range join
-- of account-days x feature-days (78 s of a 48M-event build, issue 9): the events are a 30-row
-- window over the dense daily spine; a feature counts as adopted from a day it is used until its
-- next day of use or 30 days later, whichever comes first, so its weight enters (+) and leaves (-)
-- once per stretch of use and a running sum over the account's days is the adopted weight.
key_feature_days as (

    select
        feature_usage.account_id,
        feature_usage.date_day,
        feature_usage.events,
        key_features.feature_weight,
        lead(feature_usage.date_day) over (
            partition by feature_usage.account_id, feature_usage.feature_name
            order by feature_usage.date_day
        ) as next_use_date
    from feature_usage
    inner join key_features
        on feature_usage.feature_name = key_features.feature_name
    where feature_usage.events > 0

),

key_feature_steps as (

    select
        account_id,
        date_day as step_day,
        events,
        feature_weight as weight_step
    from key_feature_days
    union all
    select
        account_id,
        case
            when next_use_date < {{ dbt.dateadd('day', window_days, 'date_day') }} then next_use_date
            else {{ dbt.dateadd('day', window_days, 'date_day') }}
        end as step_day,
        0 as events,
        -feature_weight as weight_step
    from key_feature_days

),

key_feature_steps_by_day as (

    select
        account_id,
        step_day as date_day,
        sum(events) as key_feature_events,
        sum(weight_step) as adopted_weight_step
    from key_feature_steps
    group by
        account_id,
        step_day

),

key_features_aggregated as (

    select
        accounts_daily.account_id,
        accounts_daily.date_day,
        sum(coalesce(steps.adopted_weight_step, 0)) over (
            partition by accounts_daily.account_id order by accounts_daily.date_day
            rows between unbounded preceding and current row
        ) as adopted_feature_weight,
        cast(sum(coalesce(steps.key_feature_events, 0)) over (
            partition by accounts_daily.account_id order by accounts_daily.date_day
            rows between {{ window_days - 1 }} preceding and current row
        ) as {{ dbt.type_bigint() }}) as key_feature_events_30d
    from accounts_daily
    left join key_feature_steps_by_day as steps
        on
            accounts_daily.account_id = steps.account_id
            and accounts_daily.date_day = steps.date_day

),

-- the latest day on which the whole product source delivered anything: a stale source is a data gap
source_days as (

    select
        date_day,
        sum(events) as source_events
    from accounts_daily
    group by date_day

),

source_freshness as (

    select
        source_days.date_day,
        coalesce(
            max(case when source_days.source_events > 0 then source_days.date_day end) over (
                order by source_days.date_day rows between unbounded preceding and current row
            ),
            prior_source.source_last_event_date
        ) as source_last_event_date
    from source_days
    cross join prior_source

),

rolled as (

    select
        account_id,
        date_day,
        licensed_seats,
        active_users_30d,
        coalesce(active_user_ratio_30d, 0) as active_user_ratio_30d,
        max(case when events > 0 then date_day end) over (
            partition by account_id order by date_day rows between unbounded preceding and current row
        ) as last_active_date_in_stretch,
        cast(sum(coalesce(feature_gate_hits, 0)) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as {{ dbt.type_bigint() }}) as feature_gate_hits_30d,
        cast(sum(coalesce(quota_threshold_events, 0)) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as {{ dbt.type_bigint() }}) as quota_threshold_events_30d,
        -- average over the active days only: a quiet day has no top user. Summed as an exact
        -- decimal: a double sum depends on the order the engine adds in, which differs between a
        -- full build and an incremental one re-reading 30 days (last-digit differences).
        cast(sum(cast(case when events > 0 then top_user_event_share end as decimal(38, 15))) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as {{ type_double() }})
        / nullif(count(case when events > 0 then top_user_event_share end) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ), 0) as top_user_event_share_30d
    from accounts_daily

),

final as (

    select
        {{ dbt.concat(["rolled.account_id", "'|'", dbt.cast("rolled.date_day", dbt.type_string())]) }}
            as account_day_id,
        rolled.account_id,
        rolled.date_day,
        rolled.licensed_seats,
        coalesce(rolled.active_users_30d, 0) as active_users_30d,
        rolled.active_user_ratio_30d,
        coalesce(rolled.last_active_date_in_stretch, prior_rows.last_active_date) as last_active_date,
        source_freshness.source_last_event_date,
        coalesce(key_features_aggregated.key_feature_events_30d, 0) as key_feature_events_30d,
        cast(coalesce(key_features_aggregated.adopted_feature_weight, 0) as {{ type_double() }})
        / cast(key_feature_total_weight.total_weight as {{ type_double() }}) as adopted_feature_weight_ratio,
        rolled.feature_gate_hits_30d,
        rolled.quota_threshold_events_30d,
        rolled.top_user_event_share_30d,
        current_inputs.input_fingerprint
    from rolled
    inner join source_freshness
        on rolled.date_day = source_freshness.date_day
    cross join key_feature_total_weight
    cross join reprocess_window
    inner join current_inputs
        on
            rolled.account_id = current_inputs.account_id
            and rolled.date_day = current_inputs.date_day
    left join prior_rows
        on rolled.account_id = prior_rows.account_id
    left join key_features_aggregated
        on
            rolled.account_id = key_features_aggregated.account_id
            and rolled.date_day = key_features_aggregated.date_day
    where rolled.date_day >= reprocess_window.reprocess_from_date

)

select
    *,
    {{ day_grain_fingerprint([
        'licensed_seats', 'active_users_30d', 'active_user_ratio_30d', 'last_active_date',
        'source_last_event_date', 'key_feature_events_30d', 'adopted_feature_weight_ratio',
        'feature_gate_hits_30d', 'quota_threshold_events_30d', 'top_user_event_share_30d',
    ]) }} as output_fingerprint,
    -- the run that wrote the row: data tests check the latest write's rows (macros/tests/rewritten_rows.sql)
    {{ built_at_column() }} as _built_at
from final
