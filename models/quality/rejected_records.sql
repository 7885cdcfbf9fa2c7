-- Every raw record staging could not use, with the first reason found (CONTRACT 1b).
-- Each base_<system>__<entity> view types its raw table and names a rejection_reason; the stg_
-- model keeps the rows without one and this model collects the rest, with the records the loader
-- quarantined instead of landing (base_<system>__quarantined_records), so per raw table
-- raw rows + quarantined rows = staged rows + rejected rows (tests/staging/reconciliation/).
{%- set checked_models = [
    ('product', 'events', 'base_product__events'),
    ('product', 'event_deliveries', 'base_product__event_deliveries'),
    ('product', 'account_memberships', 'base_product__account_memberships'),
    ('stripe', 'customers', 'base_stripe__customers'),
    ('stripe', 'subscriptions', 'base_stripe__subscriptions'),
    ('stripe', 'subscriptions__items__data', 'base_stripe__subscription_items'),
    ('stripe', 'invoices', 'base_stripe__invoices'),
    ('stripe', 'invoices__lines__data', 'base_stripe__invoice_lines'),
    ('crm', 'accounts', 'base_crm__accounts'),
    ('crm', 'cs_activities', 'base_crm__cs_activities'),
    ('crm', 'nps_responses', 'base_crm__nps_responses'),
    ('crm', 'support_tickets', 'base_crm__support_tickets'),
    ('crm', 'health_overrides', 'base_crm__health_overrides'),
] %}
{#- The records the loader quarantined instead of landing (pipelines/sources/quarantine.py), one
    model per raw dataset: their `source_table` is the raw table each was meant for. #}
{%- set quarantine_models = [
    ('product', 'base_product__quarantined_records'),
    ('stripe', 'base_stripe__quarantined_records'),
    ('crm', 'base_crm__quarantined_records'),
] %}
{#- Incremental on DuckDB and PostgreSQL (issue 9): the rejected events (base_product__events checks
    every raw event) are read only for the loads the deliveries check wrote since this table's latest
    write; every other table's rejections are rewritten on each run (a few rows each); a rebuilt
    deliveries table (a re-landed file) rebuilds everything (macros/incremental/event_deliveries_plan.sql,
    rejected_records_plan). Spark has no delete on plain tables: a table there. #}
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ planned_pre_hook() }}" if target.type != 'spark' else [],
    )
}}
{%- set plan = rejected_records_plan(this, ref('base_product__event_deliveries'))
    if target.type != 'spark' else {'mode': 'full', 'rebuild': false} %}
{{ planned_pre_hook_statement(rejected_records_pre_statement(plan, this, source('product', 'events'))) }}
{#- On a new-rows run only the events loaded since the latest write are read (none: no new load). #}
{%- set events_condition = none %}
{%- if plan.mode == 'new_rows' %}
    {%- set events_condition = '1 = 0' if plan.events_from is none
        else "loaded_at >= '" ~ plan.events_from ~ "'" %}
{%- endif %}
with

rejections as (
    {%- for source_system, source_table, model in checked_models %}
        select
            '{{ source_system }}' as source_system,
            '{{ source_table }}' as source_table,
            cast(record_key as {{ dbt.type_string() }}) as record_key,
            rejection_reason as reason,
            raw_payload,
            'staging' as rejected_by,
            cast(record_key as {{ dbt.type_string() }}) as identity_key
        from {{ ref(model) }}
        where rejection_reason is not null
        {%- if model == 'base_product__events' and events_condition %}
            and {{ events_condition }}
        {%- endif %}
        union all
    {%- endfor %}
    {%- for source_system, model in quarantine_models %}
        -- rewritten on every run, like the small tables' rejections (a few rows)
        select
            '{{ source_system }}' as source_system,
            source_table,
            cast(record_key as {{ dbt.type_string() }}) as record_key,
            rejection_reason as reason,
            raw_payload,
            'loader' as rejected_by,
            -- several quarantined copies may share a key (a key repeated in one file): the place
            -- each was delivered tells them apart
            {{ dbt.concat([
                "'loader|'", 'source_file', "':'", 'cast(line_number as ' ~ dbt.type_string() ~ ')'
            ]) }} as identity_key
        from {{ ref(model) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        {{ dbt.hash(dbt.concat(['source_system', "'|'", 'source_table', "'|'", 'identity_key'])) }}
            as rejected_record_id,
        source_system,
        source_table,
        record_key,
        reason,
        raw_payload,
        rejected_by,
        {{ built_at_column() }} as _built_at
    from rejections
)

select * from final
