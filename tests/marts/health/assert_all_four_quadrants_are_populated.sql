-- Claim: on a built company, each of the four quadrants holds at least one account today.
-- Only vacuous when there are fewer than four accounts (then four quadrants cannot be populated),
-- which also keeps `dbt build --empty` green.
-- Severity warn: a real book of business may lack a quadrant (a small company with no Frustrated
-- Power Users is not a broken build), so this must not gate a publish; the demo company's claim is
-- asserted as an error in tests/python/test_cli_demo_company.py.
{{ config(severity='warn') }}
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
