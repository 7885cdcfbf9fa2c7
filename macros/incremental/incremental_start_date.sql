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
