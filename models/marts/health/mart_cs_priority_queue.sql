-- One row per paying account (arr > 0): where a CSM should look first. priority_score (0-100) =
-- 100 x (priority_health_weight x (100 - effective health) / 100
--        + priority_arr_weight x ARR percentile among paying accounts
--        + priority_renewal_weight x renewal proximity (1 renewing today or overdue, 0 at 180+ days)).
-- Effective health is the lowest of the computed health_score, the CSM override score, and, for a
-- heavy user at risk for relationship decline, its relationship_score: health_score is mostly
-- usage, so without it the cohort seed 001 calls the most urgent would queue as healthy.
-- Weights come from seeds/scoring_config.csv. reasons says in words why the account is where it is.

with

accounts as (

    select
        account_id,
        account_name,
        segment,
        csm_owner,
        arr,
        days_to_renewal,
        health_score,
        health_band,
        quadrant,
        days_since_active,
        days_since_human_touch,
        is_at_risk,
        at_risk_reason,
        is_relationship_decline_risk,
        relationship_score,
        is_insufficient_data,
        has_override,
        override_score,
        override_note
    from {{ ref('dim_accounts') }}
    where arr > 0

),

scoring_config as (

    select
        segment,
        priority_health_weight,
        priority_arr_weight,
        priority_renewal_weight,
        alert_no_login_days,
        alert_no_cs_touch_days
    from {{ ref('int_scoring_config_pivoted_to_segments') }}

),

factors as (

    select
        accounts.*,
        scoring_config.priority_health_weight,
        scoring_config.priority_arr_weight,
        scoring_config.priority_renewal_weight,
        scoring_config.alert_no_login_days,
        scoring_config.alert_no_cs_touch_days,
        cast(least(
            coalesce(accounts.health_score, 0),
            coalesce(accounts.override_score, 100),
            case when accounts.is_relationship_decline_risk then accounts.relationship_score else 100 end
        ) as {{ type_double() }}) as effective_health_score,
        cume_dist() over (order by accounts.arr) as arr_percentile,
        case
            when accounts.days_to_renewal is null then 0
            -- ratio(): a double on every engine (Spark kept 6 decimals of int / 180.0)
            else greatest(0, least(1, 1 - {{ ratio('accounts.days_to_renewal', '180') }}))
        end as renewal_proximity
    from accounts
    inner join scoring_config
        on coalesce(accounts.segment, '*') = scoring_config.segment

),

scored as (

    select
        *,
        {{ round_score("100 * (
            priority_health_weight * (100 - effective_health_score) / 100
            + priority_arr_weight * arr_percentile
            + priority_renewal_weight * renewal_proximity
        )") }} as priority_score
    from factors

),

explained as (

    select
        *,
        -- each reason is prefixed with '; ' and the first prefix is cut off below
        {{ dbt.concat([
            "'; health ' || coalesce(" ~ dbt.cast("cast(round(cast(health_score as " ~ dbt.type_numeric() ~ ")) as " ~ dbt.type_int() ~ ")", dbt.type_string()) ~ ", 'unscored') || ' (' || coalesce(health_band, 'unscored') || ')'",
            "case when is_relationship_decline_risk then '; heavy user, relationship ' || coalesce(" ~ dbt.cast("cast(round(cast(relationship_score as " ~ dbt.type_numeric() ~ ")) as " ~ dbt.type_int() ~ ")", dbt.type_string()) ~ ", 'unknown') || ' and low or falling (at risk)' else '' end",
            "case when has_override then '; CSM override ' || coalesce(" ~ dbt.cast("cast(round(cast(override_score as " ~ dbt.type_numeric() ~ ")) as " ~ dbt.type_int() ~ ")", dbt.type_string()) ~ ", 'without score') || coalesce(': ' || override_note, '') else '' end",
            "'; ARR ' || " ~ dbt.cast("cast(round(cast(arr as " ~ dbt.type_numeric() ~ ")) as " ~ dbt.type_bigint() ~ ")", dbt.type_string()),
            "case when days_to_renewal is not null then '; renews in ' || " ~ dbt.cast("days_to_renewal", dbt.type_string()) ~ " || ' days' else '' end",
            "'; quadrant ' || coalesce(quadrant, 'none')",
            "case when days_since_active >= alert_no_login_days then '; no product activity for ' || " ~ dbt.cast("days_since_active", dbt.type_string()) ~ " || ' days' else '' end",
            "case when days_since_human_touch is null then '; no human CS touch on record' when days_since_human_touch >= alert_no_cs_touch_days then '; no human CS touch for ' || " ~ dbt.cast("days_since_human_touch", dbt.type_string()) ~ " || ' days' else '' end",
        ]) }} as reasons_prefixed
    from scored

),

final as (

    select
        row_number() over (
            -- ties: lower health first, then larger ARR, then account_id for a stable order
            order by priority_score desc, effective_health_score asc, arr desc, account_id asc
        ) as priority_rank,
        account_id,
        account_name,
        segment,
        csm_owner,
        priority_score,
        substring(reasons_prefixed, 3) as reasons,
        health_score,
        effective_health_score,
        health_band,
        quadrant,
        arr,
        arr_percentile,
        days_to_renewal,
        renewal_proximity,
        is_at_risk,
        at_risk_reason,
        has_override
    from explained

)

select * from final
