-- Claim: no account has negative MRR in any month (proration credits never exceed what they credit).

select
    account_id,
    month_start,
    mrr
from {{ ref('int_mrr_aggregated_to_account_months') }}
where mrr < 0
