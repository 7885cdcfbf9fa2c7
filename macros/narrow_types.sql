{#-
    Storage types narrow enough for 64-bit (or smaller) integer storage on DuckDB (issue 9).

    DuckDB stores DECIMAL wider than 18 digits and HUGEINT (what sum() of integers returns) as
    128-bit integers, which it decodes 25-50x slower than 64-bit ones; the app reads one account's
    rows of the marts and paid for whole column segments of such types (docs/APP.md). These types
    keep exact decimal text (dbt unit tests compare values as text, so PostgreSQL's numeric and
    DuckDB's DECIMAL print the same digits as before) and are spelled `decimal(p,s)` and `bigint`,
    which DuckDB, PostgreSQL and Spark all accept, so no adapter.dispatch is needed.
-#}

{#- A score 0-100 at one decimal: DECIMAL(5,1) (a 32-bit integer in DuckDB). A decimal rather than
    a double keeps the rounding exact and the same text on every engine; a value outside
    +-9999.9 fails the cast instead of being stored (a score can never be that). -#}
{% macro type_score() -%}
decimal(5,1)
{%- endmacro %}

{#- Round to one decimal exactly (at the scale of dbt.type_numeric()), stored as type_score(). -#}
{% macro round_score(expr) -%}
cast(round(cast(({{ expr }}) as {{ dbt.type_numeric() }}), 1) as {{ type_score() }})
{%- endmacro %}

{#- Money at the scale of dbt.type_numeric() (6 decimals) but 18 digits: up to 10^12 per value,
    a 64-bit integer in DuckDB instead of dbt.type_numeric()'s DECIMAL(28,6). -#}
{% macro type_money() -%}
decimal(18,6)
{%- endmacro %}
