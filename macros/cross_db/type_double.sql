{#
    A double-precision float type, for ratios. dbt.type_float() is not it: on DuckDB `float` is
    4-byte REAL. Ratios are doubles on every engine so that DuckDB (where decimal / integer already
    yields DOUBLE) and PostgreSQL (where numeric / integer yields a numeric with 20 decimals) return
    the same values, and dbt unit tests, which compare values as text, agree on both.
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'account_health')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
