{#-
    PostgreSQL plans a build's queries from statistics it does not have yet, so it is told:

    - analyze_built_table (a post-hook of every model and seed): statistics for the table just
      written. PostgreSQL samples a new table only when autovacuum gets to it, up to a minute later,
      and the models and tests built on it meanwhile plan blind.
    - no_nested_loops (a pre-hook of every model): no nested-loop joins in the model's transaction.
      The staging views' filters (a reason expression per rejected row) are beyond its estimates, so
      it takes 25 accounts for 1 row and reruns a subquery for every row it joins: quadratic in the
      account-days. dbt's tables have no indexes for a nested loop to use; a join without an
      equality condition still gets one, as there is no other way to run it.

    On the demo company (25 accounts x 60 days) a first build took 141 s before and 34 s after;
    the health scores' query went from 70 s to 0.6 s. Nothing on other engines.
-#}
{% macro analyze_built_table() %}
    {{- return(adapter.dispatch('analyze_built_table', 'account_health')()) -}}
{% endmacro %}

{% macro default__analyze_built_table() %}{% endmacro %}

{% macro postgres__analyze_built_table() %}
    {%- if model.config.materialized in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{% endmacro %}

{% macro no_nested_loops() %}
    {{- return(adapter.dispatch('no_nested_loops', 'account_health')()) -}}
{% endmacro %}

{% macro default__no_nested_loops() %}{% endmacro %}

{% macro postgres__no_nested_loops() %}set local enable_nestloop = off{% endmacro %}
