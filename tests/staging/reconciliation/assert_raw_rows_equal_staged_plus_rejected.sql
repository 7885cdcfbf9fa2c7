-- Claim: nothing is dropped silently. For every raw table,
-- raw rows + quarantined rows = staged rows + rejected rows, where quarantined rows are the records
-- the loader meant for that table but could not land (raw_<system>.quarantined_records), and
-- rejected rows include them (quality.rejected_records). Returns one row per raw table where the
-- counts do not add up.
{%- set tables = [
    ('product', 'events', 'stg_product__events'),
    ('product', 'event_deliveries', 'stg_product__event_deliveries'),
    ('product', 'account_memberships', 'stg_product__account_memberships'),
    ('stripe', 'customers', 'stg_stripe__customers'),
    ('stripe', 'subscriptions', 'stg_stripe__subscriptions'),
    ('stripe', 'subscriptions__items__data', 'stg_stripe__subscription_items'),
    ('stripe', 'invoices', 'stg_stripe__invoices'),
    ('stripe', 'invoices__lines__data', 'stg_stripe__invoice_lines'),
    ('crm', 'accounts', 'stg_crm__accounts'),
    ('crm', 'cs_activities', 'stg_crm__cs_activities'),
    ('crm', 'nps_responses', 'stg_crm__nps_responses'),
    ('crm', 'support_tickets', 'stg_crm__support_tickets'),
    ('crm', 'health_overrides', 'stg_crm__health_overrides'),
] %}
with

counts as (
    {%- for source_system, source_table, staged in tables %}
        select
            '{{ source_system }}' as source_system,
            '{{ source_table }}' as source_table,
            (select count(*) from {{ source(source_system, source_table) }}) as raw_rows,
            (
                select count(*) from {{ source(source_system, 'quarantined_records') }}
                where source_table = '{{ source_table }}'
            ) as quarantined_rows,
            (select count(*) from {{ ref(staged) }}) as staged_rows,
            (
                select count(*) from {{ ref('rejected_records') }}
                where source_system = '{{ source_system }}' and source_table = '{{ source_table }}'
            ) as rejected_rows
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from counts
where raw_rows + quarantined_rows != staged_rows + rejected_rows
