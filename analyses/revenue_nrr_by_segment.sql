-- RevOps question: which segment keeps its revenue? Trailing-twelve-month NRR and GRR per segment
-- for the latest month, from the same definitions as mart_revenue_retention (accounts with MRR
-- twelve months earlier; NRR = their MRR now / then, GRR caps each account at its MRR then).
-- Compile with `dbt compile --select revenue_nrr_by_segment` and run the SQL in target/compiled/.

with

movements as (
    select
        account_id,
        month_start,
        mrr
    from {{ ref('fct_mrr_movements') }}
),

accounts as (
    select
        account_id,
        segment
    from {{ ref('dim_accounts') }}
),

latest as (
    select max(month_start) as month_start
    from movements
),

window_starts as (
    select
        movements.account_id,
        movements.mrr as mrr_then
    from movements
    cross join latest
    where
        movements.month_start = cast({{ dbt.dateadd('month', -12, 'latest.month_start') }} as date)
        and movements.mrr > 0
),

window_ends as (
    select
        window_starts.account_id,
        window_starts.mrr_then,
        coalesce(movements.mrr, 0) as mrr_now
    from window_starts
    cross join latest
    left join movements
        on
            window_starts.account_id = movements.account_id
            and latest.month_start = movements.month_start
)

select
    accounts.segment,
    count(*) as cohort_accounts,
    sum(window_ends.mrr_then) as mrr_then,
    sum(window_ends.mrr_now) as mrr_now,
    sum(window_ends.mrr_now) / sum(window_ends.mrr_then) as nrr_ttm,
    sum(case when window_ends.mrr_now < window_ends.mrr_then then window_ends.mrr_now else window_ends.mrr_then end)
    / sum(window_ends.mrr_then) as grr_ttm
from window_ends
inner join accounts
    on window_ends.account_id = accounts.account_id
group by accounts.segment
order by accounts.segment
