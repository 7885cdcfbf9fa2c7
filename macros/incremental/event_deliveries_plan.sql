{#- Incremental deliveries check (issue 9): which raw deliveries an incremental run of
    base_product__event_deliveries reads, and what it removes first.

    A delivery's rejection_reason depends on its own row and on the copy of its message stored in
    raw `events`. The loader (pipelines/sources/product.py) appends new files: their deliveries get
    a new `_loaded_at`, and a message already stored is never stored again (a new delivery of an
    old message is a duplicate of the old stored copy). So, while no file is re-landed, an old
    delivery's reason stays as built, and a run only checks the deliveries loaded after the built
    table's latest `loaded_at` (the mark, a literal on the raw column: DuckDB skips the other row
    groups). One exception is handled although the loader never produces it: an old delivery built
    without a stored copy (rejected) whose message gets one in a new load is checked again
    ("reprocess": found among the built rejected rows only, a few; the run deletes and re-inserts
    them by file and line).

    A re-landed (changed) file replaces its rows (the loader merges on `_source_file`): its old rows
    leave the raw table, so raw rows != built rows + rows after the mark. Then, and whenever the
    built table predates `_built_at`, the run rebuilds from every delivery (the pre-hook empties the
    table first). The result always equals a `--full-refresh` build of the same raw tables
    (tests/python/test_deliveries_incremental.py). -#}

{#- The plan: {'mode': 'full' | 'new_rows', 'rebuild': whether an existing table is emptied first,
    'mark': the built table's latest loaded_at as text, 'reprocess': [[source_file, line_number]]}.
    `deliveries`/`events`: the raw source relations. -#}
{% macro event_deliveries_plan(relation, deliveries, events) %}
    {#- more old rows to reprocess than this: rebuild instead (their keys are inlined into the SQL) #}
    {%- set reprocess_limit = 500 %}
    {%- set full = {'mode': 'full', 'rebuild': false, 'mark': none, 'reprocess': []} %}
    {%- if not execute or relation is none or not is_incremental() %}{{ return(full) }}{% endif %}
    {%- set rebuild = {'mode': 'full', 'rebuild': true, 'mark': none, 'reprocess': []} %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if '_built_at' not in columns or 'loaded_at' not in columns %}{{ return(rebuild) }}{% endif %}
    {%- set marked = run_query('select cast(max(loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ relation) %}
    {%- set mark = marked.columns[0].values()[0] %}
    {%- if mark is none %}{{ return(rebuild) }}{% endif %}
    {%- set counts_query %}
        select
            (select count(*) from {{ deliveries }}) as raw_rows,
            (select count(*) from {{ relation }}) as built_rows,
            (select count(*) from {{ deliveries }} where _loaded_at > '{{ mark }}') as new_rows
    {%- endset %}
    {%- set counts = run_query(counts_query).rows[0] %}
    {%- if (counts[0] | int) != (counts[1] | int) + (counts[2] | int) %}{{ return(rebuild) }}{% endif %}
    {#- the rejected rows first (materialized: else DuckDB probes every built row's event_id) #}
    {%- set reprocess_query %}
        with rejected as materialized (
            select built.event_id, built.source_file, built.line_number
            from {{ relation }} as built
            where built.rejection_reason is not null
        )
        select rejected.source_file, rejected.line_number
        from rejected
        where rejected.event_id in (
            select new_events.message_id
            from {{ events }} as new_events
            where new_events._loaded_at > '{{ mark }}'
        )
        order by 1, 2
        limit {{ reprocess_limit + 1 }}
    {%- endset %}
    {%- set reprocess = [] %}
    {%- for row in run_query(reprocess_query).rows %}
        {%- do reprocess.append([row[0], row[1] | int]) %}
    {%- endfor %}
    {%- if reprocess | length > reprocess_limit %}{{ return(rebuild) }}{% endif %}
    {{ return({'mode': 'new_rows', 'rebuild': false, 'mark': mark, 'reprocess': reprocess}) }}
{% endmacro %}

{#- `(file = .. and line = ..) or ...` for the reprocessed rows; `file_column`/`line_column` name
    the columns (raw or built). -#}
{% macro event_deliveries_keys_predicate(reprocess, file_column, line_column) %}
    {%- set terms = [] %}
    {%- for key in reprocess %}
        {%- do terms.append('(' ~ file_column ~ " = '" ~ (key[0] | replace("'", "''")) ~ "' and " ~ line_column ~ ' = ' ~ key[1] ~ ')') %}
    {%- endfor %}
    {{ return(terms | join(' or ') if terms else '1 = 0') }}
{% endmacro %}

{#- What base_product__event_deliveries does before it writes (its planned pre-hook,
    macros/incremental/planned_pre_hook.sql): empty the table before a rebuild, or delete the old
    rows that are checked again. -#}
{% macro event_deliveries_pre_statement(plan, relation) %}
    {%- if plan.rebuild %}{{ return(incremental_empty_table_sql(relation)) }}{% endif %}
    {%- if plan.reprocess %}
        {{ return('delete from ' ~ relation ~ ' where ' ~ event_deliveries_keys_predicate(plan.reprocess, 'source_file', 'line_number')) }}
    {%- endif %}
    {{ return('') }}
{% endmacro %}

{#- Incremental quality.rejected_records (issue 9). Its costly part is the rejected raw events (the
    checked view base_product__events parses every event); a run re-reads only the events of the
    loads that base_product__event_deliveries wrote since this table's latest `_built_at` (every
    load of events has deliveries: the events are their stored copies), by the smallest such
    `loaded_at` (a literal on the raw column). Every other raw table's rejections, the deliveries'
    included (a filtered scan of that table), are rewritten in full on every run. The deliveries
    table rebuilt since (a re-landed file, whose events may have changed or gone), or a table
    without `_built_at`: the run rebuilds everything. Returns {'mode': 'full' | 'new_rows',
    'rebuild': bool, 'events_from': the smallest loaded_at to re-read, or none when no load is new}. -#}
{% macro rejected_records_plan(relation, deliveries) %}
    {%- set full = {'mode': 'full', 'rebuild': false, 'events_from': none} %}
    {%- if not execute or relation is none or not is_incremental() %}{{ return(full) }}{% endif %}
    {%- set rebuild = {'mode': 'full', 'rebuild': true, 'events_from': none} %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if '_built_at' not in columns or 'rejected_by' not in columns %}{{ return(rebuild) }}{% endif %}
    {#- an empty table has no `_built_at` to start from #}
    {%- set built = run_query('select count(*) from ' ~ relation).rows[0] %}
    {%- if built[0] | int == 0 %}{{ return(rebuild) }}{% endif %}
    {%- set query %}
        select
            cast(min(written.loaded_at) as {{ dbt.type_string() }}) as events_from,
            count(*) as written_rows,
            (select count(*) from {{ deliveries }}) as all_rows
        from {{ deliveries }} as written
        where written._built_at > (select max(built._built_at) from {{ relation }} as built)
    {%- endset %}
    {%- set row = run_query(query).rows[0] %}
    {%- if row[1] | int > 0 and (row[1] | int) == (row[2] | int) %}{{ return(rebuild) }}{% endif %}
    {{ return({'mode': 'new_rows', 'rebuild': false, 'events_from': row[0]}) }}
{% endmacro %}

{#- What quality.rejected_records does before it writes (its planned pre-hook): empty the table
    before a rebuild; otherwise delete what the run writes again (every rejection but the events',
    the loader's quarantined records included, and the events' of the loads re-read). A table built
    before `rejected_by` is rebuilt. -#}
{% macro rejected_records_pre_statement(plan, relation, events) %}
    {%- if plan.rebuild %}{{ return(incremental_empty_table_sql(relation)) }}{% endif %}
    {%- if plan.mode != 'new_rows' %}{{ return('') }}{% endif %}
    {%- set query %}
        delete from {{ relation }}
        where not (source_system = 'product' and source_table = 'events' and rejected_by = 'staging')
        {%- if plan.events_from is not none %}
            or record_key in (
                select cast(raw_events.message_id as {{ dbt.type_string() }})
                from {{ events }} as raw_events
                where raw_events._loaded_at >= '{{ plan.events_from }}'
            )
        {%- endif %}
    {%- endset %}
    {{ return(query) }}
{% endmacro %}
