-- Every event with the user it belongs to: its own userId, else the userId of the first identify
-- call with the same anonymousId at or after it (CONTRACT section 2; DECISIONS.md "Identity").
-- Incremental (issue 9): a run reads only the raw rows loaded after the built table's latest
-- `loaded_at` (the filter is a literal on the raw column, so the other rows are never parsed:
-- macros/incremental/identity_high_water_mark.sql). It stitches those events and again every built
-- event of the anonymous ids of new identify calls or new events without a user (a new identify
-- call re-stitches its anonymous id's earlier events), read back from the built table; other rows
-- stay as built. Events are append-only (a Segment messageId is never withdrawn); a re-landed
-- (changed) file makes the run rebuild from every staged event. Spark has no delete or merge on
-- plain tables: a table there.
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        unique_key='event_id',
        on_schema_change='append_new_columns',
        pre_hook="{{ planned_pre_hook() }}" if target.type != 'spark' else [],
    )
}}

{%- set plan = identity_stitch_plan(this) if target.type != 'spark' else ['full', none] %}
{%- set new_rows_only = plan[0] == 'new_rows' %}
{% if plan[0] == 'full' and plan[1] is not none %}
{{ planned_pre_hook_statement(incremental_empty_table_sql(this)) }}
{% endif %}

with

staged_events as (
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
        event_at,
        loaded_at,
        source_file
    from {{ ref('stg_product__events') }}
    {% if new_rows_only %}
        -- only the rows landed after the built table's latest one (a literal: pruned before parsing)
        where loaded_at > '{{ plan[1] }}'
    {% endif %}
),

{% if new_rows_only %}
new_events as (
    select staged_events.*
    from staged_events
),

-- Only a new identify call (it may stitch earlier events) or a new event without a user (it needs
-- the identify calls after it) makes its anonymous id's timeline worth walking again.
restitched_anonymous_ids as (
    select distinct anonymous_id
    from new_events
    where anonymous_id is not null and (user_id is null or message_type = 'identify')
),

-- The built events of those anonymous ids, as staged (a stitched user_id was null when staged).
restitched_built_events as (
    select
        built.event_id,
        built.message_type,
        built.event_name,
        case when built.is_stitched then null else built.user_id end as user_id,
        built.anonymous_id,
        built.context_group_id,
        built.group_id,
        built.email,
        built.gated_feature_name as feature_name,
        built.milestone_name,
        built.quota_name,
        built.quota_threshold_pct,
        built.event_at,
        built.loaded_at,
        built.source_file
    from {{ this }} as built
    where
        built.anonymous_id in (
            select restitched_anonymous_ids.anonymous_id
            from restitched_anonymous_ids
        )
        and built.event_id not in (select new_events.event_id from new_events)
),

{% endif %}

-- Every event on a full build; on an incremental run the new events and every built event of the
-- anonymous ids they re-stitch.
events as (
    select * from staged_events
    {% if new_rows_only %}
        union all
        select * from restitched_built_events
    {% endif %}
),

-- One timeline per anonymous id, newest first: the running count of identify calls seen so far
-- numbers the stretches that each end (in time) with one identify call. On a tie in time the
-- identify call sorts first, so an identify at the event's own timestamp counts as "later".
anonymous_timeline as (
    select
        event_id,
        anonymous_id,
        case when message_type = 'identify' and user_id is not null then user_id end as identified_user_id,
        sum(case when message_type = 'identify' and user_id is not null then 1 else 0 end) over (
            partition by anonymous_id
            order by
                event_at desc,
                case when message_type = 'identify' and user_id is not null then 0 else 1 end asc,
                event_id asc
            rows between unbounded preceding and current row
        ) as identify_stretch
    from events
    where anonymous_id is not null
),

stitched as (
    select
        event_id,
        -- Stretch 0 has no identify call at or after the event: the anonymous id stays anonymous.
        case
            when identify_stretch > 0
                then max(identified_user_id) over (partition by anonymous_id, identify_stretch)
        end as stitched_user_id
    from anonymous_timeline
),

final as (
    select
        events.event_id,
        events.message_type,
        events.event_name,
        coalesce(events.user_id, stitched.stitched_user_id) as user_id,
        events.anonymous_id,
        events.user_id is null and stitched.stitched_user_id is not null as is_stitched,
        events.context_group_id,
        events.group_id,
        events.email,
        events.feature_name as gated_feature_name,
        events.milestone_name,
        events.quota_name,
        events.quota_threshold_pct,
        events.event_at,
        -- when the raw row was landed and from which file (an incremental run's high-water mark)
        events.loaded_at,
        events.source_file,
        -- the start of the run that wrote the row (macros/tests/rewritten_rows.sql): the rows an
        -- incremental run re-stitched or added, for int_events_matched_to_account_rules and the tests
        {{ built_at_column() }} as _built_at
    from events
    left join stitched
        on events.event_id = stitched.event_id
)

select * from final
