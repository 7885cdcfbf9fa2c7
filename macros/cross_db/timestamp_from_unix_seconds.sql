{# Unix epoch seconds (Stripe's timestamps) -> timestamp without time zone in UTC. #}
{% macro timestamp_from_unix_seconds(expression) -%}
    {{ return(adapter.dispatch('timestamp_from_unix_seconds', 'account_health')(expression)) }}
{%- endmacro %}

{% macro default__timestamp_from_unix_seconds(expression) -%}
    {{ dbt.dateadd('second', expression, "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{% macro duckdb__timestamp_from_unix_seconds(expression) -%}
    make_timestamp(cast({{ expression }} as bigint) * 1000000)
{%- endmacro %}

{% macro postgres__timestamp_from_unix_seconds(expression) -%}
    cast(to_timestamp({{ expression }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro spark__timestamp_from_unix_seconds(expression) -%}
    timestamp_seconds({{ expression }})
{%- endmacro %}
