-- One row per as-of date x renewal window x segment: how much ARR renews in the window and how much
-- of it sits in at-risk accounts (is_at_risk: health below var('at_risk_threshold'), a heavy user
-- whose relationship deteriorates, or an active CSM override saying so), split by at_risk_reason
-- (each account once, under its reason; the three parts add up to at_risk_arr). Accounts without
-- an active subscription (no renewal_date) renew nothing and are left out. Every window x segment
-- cell is present, empty ones with zeros.

with

accounts as (

    select
        account_id,
        as_of_date,
        segment,
        arr,
        days_to_renewal,
        is_at_risk,
        at_risk_reason
    from {{ ref('dim_accounts') }}

),

-- the CONTRACT's windows (a renewal date already past counts as 0-30)
renewal_windows as (

    select
        '0-30' as renewal_window,
        1 as window_order
    union all
    select
        '31-60' as renewal_window,
        2 as window_order
    union all
    select
        '61-90' as renewal_window,
        3 as window_order
    union all
    select
        '91-180' as renewal_window,
        4 as window_order
    union all
    select
        '181+' as renewal_window,
        5 as window_order

),

windowed as (

    select
        account_id,
        as_of_date,
        coalesce(segment, '*') as segment,
        arr,
        is_at_risk,
        at_risk_reason,
        case
            when days_to_renewal <= 30 then '0-30'
            when days_to_renewal <= 60 then '31-60'
            when days_to_renewal <= 90 then '61-90'
            when days_to_renewal <= 180 then '91-180'
            else '181+'
        end as renewal_window
    from accounts
    where days_to_renewal is not null

),

aggregated as (

    select
        renewal_window,
        segment,
        count(*) as accounts,
        cast(sum(case when is_at_risk then 1 else 0 end) as {{ dbt.type_bigint() }}) as at_risk_accounts,
        cast(sum(arr) as {{ type_money() }}) as total_arr,
        cast(sum(case when is_at_risk then arr else 0 end) as {{ type_money() }}) as at_risk_arr,
        cast(sum(case when at_risk_reason = 'low_health' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as low_health_accounts,
        cast(sum(case when at_risk_reason = 'low_health' then arr else 0 end) as {{ type_money() }}) as low_health_arr,
        cast(sum(case when at_risk_reason = 'relationship_decline' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as relationship_decline_accounts,
        cast(sum(case when at_risk_reason = 'relationship_decline' then arr else 0 end) as {{ type_money() }})
            as relationship_decline_arr,
        cast(sum(case when at_risk_reason = 'override' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as override_accounts,
        cast(sum(case when at_risk_reason = 'override' then arr else 0 end) as {{ type_money() }}) as override_arr
    from windowed
    group by
        renewal_window,
        segment

),

segments as (

    select distinct coalesce(segment, '*') as segment from accounts  -- the grid's rows, not a patch

),

as_of as (

    select max(as_of_date) as as_of_date from accounts

),

final as (

    select
        {{ dbt.concat([
            dbt.cast("as_of.as_of_date", dbt.type_string()), "'|'",
            "renewal_windows.renewal_window", "'|'", "segments.segment"
        ]) }} as at_risk_arr_id,
        as_of.as_of_date,
        renewal_windows.renewal_window,
        renewal_windows.window_order,
        segments.segment,
        coalesce(aggregated.accounts, 0) as accounts,
        coalesce(aggregated.at_risk_accounts, 0) as at_risk_accounts,
        -- money at type_money()'s scale on every engine (PostgreSQL's coalesce drops the scale)
        cast(coalesce(aggregated.total_arr, 0) as {{ type_money() }}) as total_arr,
        cast(coalesce(aggregated.at_risk_arr, 0) as {{ type_money() }}) as at_risk_arr,
        -- at_risk_arr by at_risk_reason
        coalesce(aggregated.low_health_accounts, 0) as low_health_accounts,
        cast(coalesce(aggregated.low_health_arr, 0) as {{ type_money() }}) as low_health_arr,
        coalesce(aggregated.relationship_decline_accounts, 0) as relationship_decline_accounts,
        cast(coalesce(aggregated.relationship_decline_arr, 0) as {{ type_money() }}) as relationship_decline_arr,
        coalesce(aggregated.override_accounts, 0) as override_accounts,
        cast(coalesce(aggregated.override_arr, 0) as {{ type_money() }}) as override_arr
    from as_of
    cross join renewal_windows
    cross join segments
    left join aggregated
        on
            renewal_windows.renewal_window = aggregated.renewal_window
            and segments.segment = aggregated.segment

)

select * from final
