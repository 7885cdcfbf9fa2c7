-- One row per account per week in which its quadrant changed from the week before.
-- A move needs attention when it goes toward lower usage or lower relationship (DECISIONS.md):
-- Champions -> Frustrated Power Users and Relationship-Dependent -> Churn Risk among them.

with

quadrants_weekly as (

    select
        account_id,
        week_start,
        scored_on,
        quadrant
    from {{ ref('fct_account_quadrants_weekly') }}

),

compared as (

    select
        account_id,
        week_start,
        scored_on,
        lag(quadrant) over (partition by account_id order by week_start) as from_quadrant,
        quadrant as to_quadrant
    from quadrants_weekly

),

final as (

    select
        {{ dbt.concat(["account_id", "'|'", dbt.cast("week_start", dbt.type_string())]) }} as quadrant_movement_id,
        account_id,
        week_start,
        scored_on,
        from_quadrant,
        to_quadrant,
        -- usage axis: from high usage (Champions, Frustrated Power Users) to low
        (
            from_quadrant in ('Champions', 'Frustrated Power Users')
            and to_quadrant in ('Relationship-Dependent', 'Churn Risk')
        ) as is_usage_drop,
        -- relationship axis: from high relationship (Champions, Relationship-Dependent) to low
        (
            from_quadrant in ('Champions', 'Relationship-Dependent')
            and to_quadrant in ('Frustrated Power Users', 'Churn Risk')
        ) as is_relationship_drop
    from compared
    -- a week with an unknown (null) quadrant is no move, neither into it nor out of it
    where from_quadrant is not null and from_quadrant <> to_quadrant

)

select
    *,
    (is_usage_drop or is_relationship_drop) as needs_attention
from final
