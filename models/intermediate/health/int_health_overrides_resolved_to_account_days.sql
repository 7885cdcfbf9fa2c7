-- One row per account per day with an active CSM override: the override in force that day.
-- An override is active from its created_at date until the day before its expires_at date
-- (no expires_at = until replaced). When several are active, the latest created wins
-- (tie-breaker: the greater override_id).

with

spine as (

    select
        account_id,
        date_day
    from {{ ref('int_accounts_daily') }}

),

health_overrides as (

    select
        override_id,
        account_id,
        override_quadrant,
        override_score,
        override_note,
        author,
        created_at,
        expires_at,
        cast(created_at as date) as created_date,
        cast(expires_at as date) as expires_date
    from {{ ref('stg_crm__health_overrides') }}

),

active_overrides as (

    select
        spine.account_id,
        spine.date_day,
        health_overrides.override_id,
        health_overrides.override_quadrant,
        health_overrides.override_score,
        health_overrides.override_note,
        health_overrides.author as override_author,
        health_overrides.created_at as override_created_at,
        health_overrides.expires_at as override_expires_at,
        -- latest created wins; the greater override_id breaks a tie
        row_number() over (
            partition by spine.account_id, spine.date_day
            order by health_overrides.created_at desc, health_overrides.override_id desc
        ) as override_rank
    from spine
    inner join health_overrides
        on
            spine.account_id = health_overrides.account_id
            and spine.date_day >= health_overrides.created_date
            and (health_overrides.expires_date is null or spine.date_day < health_overrides.expires_date)

),

final as (

    select
        {{ dbt.concat(["account_id", "'|'", dbt.cast("date_day", dbt.type_string())]) }} as account_day_id,
        account_id,
        date_day,
        override_id,
        override_quadrant,
        override_score,
        override_note,
        override_author,
        override_created_at,
        override_expires_at,
        -- a CSM flags an account at risk by putting it in Churn Risk or scoring it below the threshold
        coalesce(
            override_quadrant = 'Churn Risk' or override_score < {{ var('at_risk_threshold') }},
            false
        ) as is_override_at_risk
    from active_overrides
    where override_rank = 1

)

select * from final
