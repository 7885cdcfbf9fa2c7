-- Claim: the account-day models have exactly one row per account per day, and exactly the days of
-- the spine (no gaps, no extra days). Returns the offending (model, account, day) rows.

{% set models = [
    'int_usage_aggregated_to_account_days',
    'int_billing_aggregated_to_account_days',
    'int_accounts_daily',
] %}

with

spine as (
    select
        account_id,
        date_day
    from {{ ref('int_accounts_spined_to_days') }}
),

{% for model in models %}
    {{ model }}_rows as (
        select
            '{{ model }}' as model_name,
            account_id,
            date_day,
            count(*) as model_rows
        from {{ ref(model) }}
        group by
            account_id,
            date_day
    ),
{% endfor %}

compared as (
    {% for model in models %}
        select
            '{{ model }}' as model_name,
            coalesce(spine.account_id, {{ model }}_rows.account_id) as account_id,
            coalesce(spine.date_day, {{ model }}_rows.date_day) as date_day,
            coalesce({{ model }}_rows.model_rows, 0) as model_rows,
            case when spine.account_id is null then 0 else 1 end as spine_rows
        from spine
        full outer join {{ model }}_rows
            on
                spine.account_id = {{ model }}_rows.account_id
                and spine.date_day = {{ model }}_rows.date_day
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select *
from compared
where model_rows <> 1 or spine_rows <> 1
