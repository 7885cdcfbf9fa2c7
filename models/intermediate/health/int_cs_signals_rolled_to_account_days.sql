-- One row per account per day: the relationship-side inputs of the health components (human CS
-- touches, CSM sentiment, NPS, support tickets) rolled over the windows the scores use.
-- Automated CS activities (is_automated) never count as a touch.
-- Incremental by day (issue 9; macros/cross_db/day_grain_incremental.sql): each row keeps a
-- fingerprint of its day's CRM inputs (human touches and their sentiment, NPS responses, tickets
-- opened that day with their close dates, the account's first ticket once opened); a run finds the
-- first account-day whose fingerprint changed (a new day, an edited or late CRM row, a ticket
-- closed: its opening day changes), re-reads
-- the 180 days before it for the 90- and 180-day windows, carries the last human touch from the
-- built rows before that, and replaces the days from the changed one on. output_fingerprint (the
-- row's values) is what int_health_components_scored compares. A table on Spark.
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy=day_grain_incremental_strategy(),
        unique_key='account_day_id',
        on_schema_change='append_new_columns',
    )
}}
{%- set window_days = 180 %}

with

all_days as (

    select
        account_id,
        date_day
    from {{ ref('int_accounts_daily') }}

),

cs_activities as (

    select
        account_id,
        cast(occurred_at as date) as activity_date,
        is_automated,
        sentiment
    from {{ ref('stg_crm__cs_activities') }}

),

nps_responses as (

    select
        account_id,
        cast(submitted_at as date) as response_date,
        nps_score
    from {{ ref('stg_crm__nps_responses') }}

),

support_tickets as (

    select
        account_id,
        cast(opened_at as date) as opened_date,
        cast(closed_at as date) as closed_date
    from {{ ref('stg_crm__support_tickets') }}

),

human_touches_daily as (

    select
        account_id,
        activity_date,
        count(*) as human_touches,
        -- CSM sentiment on a 0-100 scale: positive 100, neutral 50, negative 0
        sum(case sentiment when 'positive' then 100 when 'neutral' then 50 when 'negative' then 0 end)
            as sentiment_points,
        count(sentiment) as sentiment_touches
    from cs_activities
    where not coalesce(is_automated, false)
    group by
        account_id,
        activity_date

),

nps_daily as (

    select
        account_id,
        response_date,
        sum(nps_score) as nps_score_sum,
        count(*) as nps_responses
    from nps_responses
    group by
        account_id,
        response_date

),

tickets_opened_daily as (

    select
        account_id,
        opened_date,
        count(*) as tickets_opened,
        -- the close dates of the day's tickets, for the fingerprint: closing a ticket changes the
        -- open tickets of every day since it was opened
        count(closed_date) as tickets_closed,
        sum({{ dbt.datediff('opened_date', 'closed_date', 'day') }}) as days_to_close_sum,
        max(closed_date) as last_closed_date
    from support_tickets
    group by
        account_id,
        opened_date

),

-- support_score is unknown until the account's first ticket: read from every ticket, not the re-read stretch
first_tickets as (

    select
        account_id,
        min(opened_date) as first_ticket_opened_date
    from support_tickets
    group by account_id

),

-- Every account-day with its CRM inputs (null where it had none): the fingerprint reads them all,
-- the re-read stretch the days from its start.
day_inputs as (

    select
        all_days.account_id,
        all_days.date_day,
        human_touches_daily.human_touches,
        human_touches_daily.sentiment_points,
        human_touches_daily.sentiment_touches,
        nps_daily.nps_score_sum,
        nps_daily.nps_responses,
        tickets_opened_daily.tickets_opened,
        tickets_opened_daily.tickets_closed,
        tickets_opened_daily.days_to_close_sum,
        tickets_opened_daily.last_closed_date,
        case
            when first_tickets.first_ticket_opened_date <= all_days.date_day
                then first_tickets.first_ticket_opened_date
        end as first_ticket_opened_date
    from all_days
    left join human_touches_daily
        on
            all_days.account_id = human_touches_daily.account_id
            and all_days.date_day = human_touches_daily.activity_date
    left join nps_daily
        on
            all_days.account_id = nps_daily.account_id
            and all_days.date_day = nps_daily.response_date
    left join tickets_opened_daily
        on
            all_days.account_id = tickets_opened_daily.account_id
            and all_days.date_day = tickets_opened_daily.opened_date
    left join first_tickets
        on all_days.account_id = first_tickets.account_id

),

current_inputs as (

    select
        account_id,
        date_day,
        {{ day_grain_fingerprint([
            'human_touches', 'sentiment_points', 'sentiment_touches', 'nps_score_sum', 'nps_responses',
            'tickets_opened', 'tickets_closed', 'days_to_close_sum', 'last_closed_date',
            'first_ticket_opened_date',
        ]) }} as input_fingerprint,
        first_ticket_opened_date
    from day_inputs

),

reprocess_window as (

    {{ day_grain_reprocess_window('current_inputs') }}

),

-- The re-read stretch: the reprocessed days and the window_days before them.
spine as (

    select
        all_days.account_id,
        all_days.date_day
    from all_days
    cross join reprocess_window
    where all_days.date_day >= {{ dbt.dateadd('day', -window_days, 'reprocess_window.reprocess_from_date') }}

),

-- The last human touch before the stretch, as built.
prior_rows as (

    select
        built.account_id,
        max(built.last_human_touch_date) as last_human_touch_date
    from {{ day_grain_built_rows([
        ('account_id', dbt.type_string()), ('date_day', 'date'), ('last_human_touch_date', 'date'),
    ]) }} as built
    cross join reprocess_window
    where built.date_day < {{ dbt.dateadd('day', -window_days, 'reprocess_window.reprocess_from_date') }}
    group by built.account_id

),

-- tickets open at the end of date_day: opened on or before it, not closed by then
open_tickets as (

    select
        spine.account_id,
        spine.date_day,
        count(*) as open_tickets,
        max({{ dbt.datediff('support_tickets.opened_date', 'spine.date_day', 'day') }}) as oldest_open_ticket_age_days
    from spine
    cross join reprocess_window
    inner join support_tickets
        on
            spine.account_id = support_tickets.account_id
            and spine.date_day >= support_tickets.opened_date
            and (support_tickets.closed_date is null or spine.date_day < support_tickets.closed_date)
    where spine.date_day >= reprocess_window.reprocess_from_date
    group by
        spine.account_id,
        spine.date_day

),

daily as (

    select
        spine.account_id,
        spine.date_day,
        coalesce(day_inputs.human_touches, 0) as human_touches,
        coalesce(day_inputs.sentiment_points, 0) as sentiment_points,
        coalesce(day_inputs.sentiment_touches, 0) as sentiment_touches,
        coalesce(day_inputs.nps_score_sum, 0) as nps_score_sum,
        coalesce(day_inputs.nps_responses, 0) as nps_responses,
        coalesce(day_inputs.tickets_opened, 0) as tickets_opened
    from spine
    inner join day_inputs
        on
            spine.account_id = day_inputs.account_id
            and spine.date_day = day_inputs.date_day

),

rolled as (

    select
        account_id,
        date_day,
        max(case when human_touches > 0 then date_day end) over (
            partition by account_id order by date_day rows between unbounded preceding and current row
        ) as last_human_touch_date_in_stretch,
        cast(sum(human_touches) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as {{ dbt.type_bigint() }}) as human_touches_90d,
        sum(sentiment_points) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as sentiment_points_90d,
        sum(sentiment_touches) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as sentiment_touches_90d,
        sum(nps_score_sum) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as nps_score_sum_90d,
        sum(nps_responses) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as nps_responses_90d,
        sum(nps_score_sum) over (
            partition by account_id order by date_day rows between 179 preceding and current row
        ) as nps_score_sum_180d,
        sum(nps_responses) over (
            partition by account_id order by date_day rows between 179 preceding and current row
        ) as nps_responses_180d,
        cast(sum(tickets_opened) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as {{ dbt.type_bigint() }}) as tickets_opened_30d
    from daily

),

final as (

    select
        {{ dbt.concat(["rolled.account_id", "'|'", dbt.cast("rolled.date_day", dbt.type_string())]) }}
            as account_day_id,
        rolled.account_id,
        rolled.date_day,
        coalesce(rolled.last_human_touch_date_in_stretch, prior_rows.last_human_touch_date)
            as last_human_touch_date,
        rolled.human_touches_90d,
        case
            when rolled.sentiment_touches_90d > 0
                then cast(rolled.sentiment_points_90d as {{ type_double() }}) / rolled.sentiment_touches_90d
        end as avg_sentiment_points_90d,
        case
            when rolled.nps_responses_180d > 0
                then cast(rolled.nps_score_sum_180d as {{ type_double() }}) / rolled.nps_responses_180d
        end as avg_nps_180d,
        case
            when rolled.nps_responses_90d > 0
                then cast(rolled.nps_score_sum_90d as {{ type_double() }}) / rolled.nps_responses_90d
        end as avg_nps_last_90d,
        case
            when rolled.nps_responses_180d - rolled.nps_responses_90d > 0
                then
                    cast(rolled.nps_score_sum_180d - rolled.nps_score_sum_90d as {{ type_double() }})
                    / (rolled.nps_responses_180d - rolled.nps_responses_90d)
        end as avg_nps_prior_90d,
        rolled.tickets_opened_30d,
        current_inputs.first_ticket_opened_date,
        coalesce(open_tickets.open_tickets, 0) as open_tickets,
        coalesce(open_tickets.oldest_open_ticket_age_days, 0) as oldest_open_ticket_age_days,
        current_inputs.input_fingerprint
    from rolled
    cross join reprocess_window
    inner join current_inputs
        on
            rolled.account_id = current_inputs.account_id
            and rolled.date_day = current_inputs.date_day
    left join prior_rows
        on rolled.account_id = prior_rows.account_id
    left join open_tickets
        on
            rolled.account_id = open_tickets.account_id
            and rolled.date_day = open_tickets.date_day
    where rolled.date_day >= reprocess_window.reprocess_from_date

)

select
    *,
    {{ day_grain_fingerprint([
        'last_human_touch_date', 'human_touches_90d', 'avg_sentiment_points_90d', 'avg_nps_180d',
        'avg_nps_last_90d', 'avg_nps_prior_90d', 'tickets_opened_30d', 'first_ticket_opened_date',
        'open_tickets', 'oldest_open_ticket_age_days',
    ]) }} as output_fingerprint,
    -- the run that wrote the row: data tests check the latest write's rows (macros/tests/rewritten_rows.sql)
    {{ built_at_column() }} as _built_at
from final
