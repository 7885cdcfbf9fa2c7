-- depends_on: {{ ref('int_events_stitched_to_users') }}
-- Claim: every staged event is either attributed to exactly one account or counted once as
-- unresolved, never both and never lost: resolved + unresolved = staged, event by event.
-- On an incremental run (not `--full-refresh`, not `test_all_rows`) the claim is checked for the
-- events that run resolved (int_events_matched_to_account_rules' latest write) and the raw rows
-- landed since the identity models' previous build (a staged event the run lost), each against all
-- outcome rows: the other events' outcomes were checked by the run that resolved them
-- (macros/tests/rewritten_rows.sql, macros/incremental/identity_high_water_mark.sql).
{%- set matched_filter = rewritten_rows_filter(ref('int_events_matched_to_account_rules')) %}
{%- set staged_filter = rewritten_rows_filter(ref('stg_product__events')) %}
{%- set limited = matched_filter is not none and staged_filter is not none %}

with

{% if limited %}
checked_events as (
    select event_id
    from {{ ref('int_events_matched_to_account_rules') }}
    where {{ matched_filter }}
    union
    select event_id
    from {{ ref('stg_product__events') }}
    where {{ staged_filter }}
),
{% endif %}

staged as (
    select event_id
    from {{ ref('stg_product__events') }}
    {% if limited %}
        -- the raw rows landed since (a literal on loaded_at: the staged view parses those rows only)
        where {{ staged_filter }}
        union all
        -- the earlier staged events the run resolved again, as int_events_stitched_to_users holds
        -- them (one row per staged event; a raw row that changed or left makes the identity models
        -- rebuild every event, and then every row is checked)
        select stitched.event_id
        from {{ ref('int_events_stitched_to_users') }} as stitched
        -- joins to the checked ids, not `in (select ...)`: DuckDB built that semi-join's hash table
        -- from every row of the big side (macros/tests/test_unique_in_rewritten_rows.sql)
        inner join checked_events
            on stitched.event_id = checked_events.event_id
        where not (stitched.{{ staged_filter }})
    {% endif %}
),

outcomes as (
    select resolved.event_id
    from {{ ref('int_events_resolved_to_accounts') }} as resolved
    {% if limited %}
        inner join checked_events
            on resolved.event_id = checked_events.event_id
    {% endif %}
    union all
    select unresolved.event_id
    from {{ ref('unresolved_events') }} as unresolved
    {% if limited %}
        inner join checked_events
            on unresolved.event_id = checked_events.event_id
    {% endif %}
),

outcome_counts as (
    select
        event_id,
        count(*) as outcomes
    from outcomes
    group by event_id
)

select
    coalesce(staged.event_id, outcome_counts.event_id) as event_id,
    coalesce(outcome_counts.outcomes, 0) as outcomes,
    case when staged.event_id is null then 0 else 1 end as staged_rows
from staged
full outer join outcome_counts
    on staged.event_id = outcome_counts.event_id
where coalesce(outcome_counts.outcomes, 0) <> 1 or staged.event_id is null
