{#
    numerator / denominator as a double on every engine, null when the denominator is zero.

    Both operands are cast to type_double() before dividing: that is what DuckDB does for decimal
    operands, so DuckDB's results are unchanged, and PostgreSQL (numeric / numeric = a numeric with
    up to 20 decimals) returns the same double. dbt unit tests compare values as text, so a ratio
    must have one type on every engine.
#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0)
{%- endmacro %}
