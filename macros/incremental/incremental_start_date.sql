{#
    The first day an incremental day-grain model recomputes, as 'YYYY-MM-DD' text: `window_sql` (the
    model's own query, one row and one date column) runs once, before the model, and the model writes
    the date into its SQL as a literal (issue 9). A literal filter on a view's grouping column is
    pushed below the view's group-by to its events; a date joined in from a CTE is not, so the view
    aggregates every event first. `default` when dbt only parses, or when the query returns no date.
    Unit tests override this macro with the date their fixtures imply.
#}
{% macro incremental_start_date(window_sql, default='1900-01-01') -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set rows = run_query(window_sql).rows -%}
    {%- if rows | length == 0 or rows[0][0] is none -%}
        {{ return(default) }}
    {%- endif -%}
    {{ return(rows[0][0] | string) }}
{%- endmacro %}

{#
    The day `days_before` days before the model's first recomputed day, as SQL for a filter. On an
    incremental run a literal (`reprocess_from`, from incremental_start_date), so the filter reaches
    below a view's group-by. A full build reads every day, and keeps the date joined in from the
    model's one-row `reprocess_window` CTE (with reprocess_window_join): with literal filters DuckDB
    planned the usage model's full build at 48M events differently and ran out of its 2.5 GB, where
    this form spills and passes (session 7). `incremental` is passed in, not read here: unit tests
    override is_incremental only where the model itself calls it.
#}
{% macro reprocess_from_bound(reprocess_from, incremental, days_before=0) -%}
    {%- if incremental -%}
        {%- set bound = modules.datetime.date.fromisoformat(reprocess_from | string)
            - modules.datetime.timedelta(days=days_before) -%}
        {{ return("cast('" ~ bound ~ "' as date)") }}
    {%- elif days_before == 0 -%}
        {{ return('reprocess_window.reprocess_from_date') }}
    {%- endif -%}
    {{ return(dbt.dateadd('day', -days_before, 'reprocess_window.reprocess_from_date')) }}
{%- endmacro %}

{#- The join that reprocess_from_bound's full-build form reads its date from. -#}
{% macro reprocess_window_join(incremental) -%}
    {{ return('' if incremental else 'cross join reprocess_window') }}
{%- endmacro %}
