-- Claim: every staged event is either attributed to exactly one account or counted once as
-- unresolved, never both and never lost: resolved + unresolved = staged, event by event.

with

staged as (
    select event_id
    from {{ ref('stg_product__events') }}
),

outcomes as (
    select event_id
    from {{ ref('int_events_resolved_to_accounts') }}
    union all
    select event_id
    from {{ ref('unresolved_events') }}
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
