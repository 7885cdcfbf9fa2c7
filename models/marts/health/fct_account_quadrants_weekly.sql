-- One row per account per week: the quadrant and scores on the week's last scored day.
-- Incremental history instead of a dbt snapshot so that Spark (no snapshots without Delta) can
-- build it: closed weeks are kept as they were published; only the latest week is rewritten.
-- Re-scoring the whole history under a new config is `--full-refresh` (see _health__docs.md).
{{
    config(
        materialized='incremental',
        unique_key='account_week_id',
        incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'delete+insert'),
        partition_by=(['week_start'] if target.type == 'spark' else none),
        on_schema_change='append_new_columns',
    )
}}

with

health_daily as (

    select
        account_id,
        date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        config_version,
        usage_score,
        relationship_score,
        health_score,
        health_band,
        quadrant,
        quadrant_status
    from {{ ref('fct_account_health_daily') }}
    {% if is_incremental() %}
        -- the latest stored week may have been partial: rebuild it and every week after it
        where date_day >= (select max(week_start) from {{ this }})
    {% endif %}

),

-- the week's last scored day stands for the week (tie impossible: one row per account-day)
week_ends as (

    select
        *,
        row_number() over (partition by account_id, week_start order by date_day desc) as day_rank
    from health_daily

),

final as (

    select
        {{ dbt.concat(["account_id", "'|'", dbt.cast("week_start", dbt.type_string())]) }} as account_week_id,
        account_id,
        week_start,
        date_day as scored_on,
        config_version,
        usage_score,
        relationship_score,
        health_score,
        health_band,
        quadrant,
        quadrant_status
    from week_ends
    where day_rank = 1

)

select * from final
