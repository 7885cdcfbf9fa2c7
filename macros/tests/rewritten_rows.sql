{#
    Data tests of the incremental account-day models limited to the rows the latest run wrote
    (issue 9). Rows a run did not rewrite were tested by the run that wrote them; re-reading the
    whole history on every incremental run is most of an incremental build's test time.

    Each such model stores `_built_at` (built_at_column(): the run's start, the same on every row one
    run writes). A data test opts in with the placeholder `__rewritten_rows__` in its `where`
    config; get_where_subquery below replaces it, when the test runs, with
    `_built_at = <the latest _built_at of the tested relation>`: the rows of the latest write. dbt
    renders a `where` config when it parses the YAML, without the project's macros, so the
    placeholder is resolved here (the documented way to put macro logic into `where`).

    No filter at all (every row is tested) when:
    - the run is a `--full-refresh` (every row is the latest write anyway: the filter would be a no-op);
    - `--vars '{test_all_rows: true}'` is given (an audit of the whole history);
    - the relation has no `_built_at` column yet (built before this change), or it is empty.
    A first build or a full refresh writes every row with one `_built_at`, so it tests every row.

    What a limited test still guarantees (docs/OPERATIONS.md "Incremental runs and data tests"):
    per-row tests (not_null, accepted_values, expressions, relationships from the model's rows)
    hold for every row, because every row was tested by the run that wrote it and a row no run
    rewrote has not changed. A key test over only the new rows would miss a duplicate between a new
    and an old row, so key tests use unique_in_rewritten_rows: every row whose key is the key of a
    new row, old rows included. That needs the table to have been unique before the run, which a
    run that failed its tests does not give for the next `dbt build` on the same file; the CLI
    builds a copy of the last published (fully passed) warehouse and never publishes a failed
    build, so each run starts from a tested table. Outside the CLI, re-test everything once with
    `test_all_rows` or `--full-refresh` after a failed run.
#}

{# The marker column: the run's start time, one value per run. #}
{% macro built_at_column() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#
    The predicate that keeps the rows of `relation`'s latest write, or none when every row is to be
    tested (see above). The latest `_built_at` is read when the test runs and inlined as a literal,
    so DuckDB's zone maps skip the row groups of earlier writes (appended rows of the latest run sit
    in row groups of their own).
#}
{% macro rewritten_rows_filter(relation) -%}
    {%- if not execute or flags.FULL_REFRESH or var('test_all_rows', false) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- if '_built_at' not in columns -%}
        {#- the staged events (a view over raw): the raw rows landed since the identity models'
            previous build (macros/incremental/identity_high_water_mark.sql); the usage views: the
            days of the events the identity match rewrote (macros/tests/usage_view_rows.sql) -#}
        {{ return(identity_new_raw_rows_filter(relation, columns) or usage_view_rows_filter(relation, columns)) }}
    {%- endif -%}
    {%- set latest = run_query("select " ~ dbt.cast("max(_built_at)", dbt.type_string()) ~ " from " ~ relation) -%}
    {%- set latest_value = latest.columns[0].values()[0] if latest.rows | length > 0 else none -%}
    {%- if latest_value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("_built_at = cast('" ~ latest_value ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{#
    dbt's get_where_subquery (global_project macros/materializations/tests/where_subquery.sql) with
    the `__rewritten_rows__` placeholder resolved. Any other `where` works as before.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__rewritten_rows__' in where -%}
        {%- set where = where | replace('__rewritten_rows__', rewritten_rows_filter(relation) or '1 = 1') -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
