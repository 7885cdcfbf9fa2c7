-- Claim: on a built company, each of the four quadrants holds at least one account today.
-- Only vacuous when there are fewer than four accounts (then four quadrants cannot be populated),
-- which also keeps `dbt build --empty` green.
with

quadrants as (

    select 'Champions' as quadrant
    union all
    select 'Frustrated Power Users'
    union all
    select 'Relationship-Dependent'
    union all
    select 'Churn Risk'

),

accounts as (

    select
        account_id,
        quadrant
    from {{ ref('dim_accounts') }}

)

select quadrants.quadrant
from quadrants
where
    (select count(*) from accounts) >= 4
    and not exists (
        select 1 from accounts
        where accounts.quadrant = quadrants.quadrant
    )
