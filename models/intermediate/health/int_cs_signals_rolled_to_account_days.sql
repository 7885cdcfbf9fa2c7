-- One row per account per day: the relationship-side inputs of the health components (human CS
-- touches, CSM sentiment, NPS, support tickets) rolled over the windows the scores use.
-- Automated CS activities (is_automated) never count as a touch.
-- A table, not a view: read by int_health_components_scored and tested per account-day (issue 9).
{{ config(materialized='table') }}

with

spine as (

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
        count(*) as tickets_opened
    from support_tickets
    group by
        account_id,
        opened_date

),

-- tickets open at the end of date_day: opened on or before it, not closed by then
open_tickets as (

    select
        spine.account_id,
        spine.date_day,
        count(*) as open_tickets,
        max({{ dbt.datediff('support_tickets.opened_date', 'spine.date_day', 'day') }}) as oldest_open_ticket_age_days
    from spine
    inner join support_tickets
        on
            spine.account_id = support_tickets.account_id
            and spine.date_day >= support_tickets.opened_date
            and (support_tickets.closed_date is null or spine.date_day < support_tickets.closed_date)
    group by
        spine.account_id,
        spine.date_day

),

daily as (

    select
        spine.account_id,
        spine.date_day,
        coalesce(human_touches_daily.human_touches, 0) as human_touches,
        coalesce(human_touches_daily.sentiment_points, 0) as sentiment_points,
        coalesce(human_touches_daily.sentiment_touches, 0) as sentiment_touches,
        coalesce(nps_daily.nps_score_sum, 0) as nps_score_sum,
        coalesce(nps_daily.nps_responses, 0) as nps_responses,
        coalesce(tickets_opened_daily.tickets_opened, 0) as tickets_opened
    from spine
    left join human_touches_daily
        on
            spine.account_id = human_touches_daily.account_id
            and spine.date_day = human_touches_daily.activity_date
    left join nps_daily
        on
            spine.account_id = nps_daily.account_id
            and spine.date_day = nps_daily.response_date
    left join tickets_opened_daily
        on
            spine.account_id = tickets_opened_daily.account_id
            and spine.date_day = tickets_opened_daily.opened_date

),

rolled as (

    select
        account_id,
        date_day,
        max(case when human_touches > 0 then date_day end) over (
            partition by account_id order by date_day rows between unbounded preceding and current row
        ) as last_human_touch_date,
        sum(human_touches) over (
            partition by account_id order by date_day rows between 89 preceding and current row
        ) as human_touches_90d,
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
        sum(tickets_opened) over (
            partition by account_id order by date_day rows between 29 preceding and current row
        ) as tickets_opened_30d
    from daily

),

final as (

    select
        {{ dbt.concat(["rolled.account_id", "'|'", dbt.cast("rolled.date_day", dbt.type_string())]) }} as account_day_id,
        rolled.account_id,
        rolled.date_day,
        rolled.last_human_touch_date,
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
        coalesce(open_tickets.open_tickets, 0) as open_tickets,
        coalesce(open_tickets.oldest_open_ticket_age_days, 0) as oldest_open_ticket_age_days
    from rolled
    left join open_tickets
        on
            rolled.account_id = open_tickets.account_id
            and rolled.date_day = open_tickets.date_day

)

select * from final
