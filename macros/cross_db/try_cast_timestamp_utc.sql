{#
    ISO 8601 text with any UTC offset (or none: read as UTC) -> timestamp without time zone in UTC;
    null when the text is not a timestamp, so staging can reject the row instead of failing the build.
#}
{% macro try_cast_timestamp_utc(expression) -%}
    {{ return(adapter.dispatch('try_cast_timestamp_utc', 'account_health')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_timestamp_utc(expression) -%}
    cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__try_cast_timestamp_utc(expression) -%}
    cast(timezone('UTC', try_cast({{ expression }} as timestamptz)) as timestamp)
{%- endmacro %}

{% macro postgres__try_cast_timestamp_utc(expression) -%}
    {#- PostgreSQL has no try_cast: a strict ISO 8601 pattern guards the cast. -#}
    case
        when {{ expression }} ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?$'
            then cast(cast({{ expression }} as timestamptz) at time zone 'UTC' as timestamp)
    end
{%- endmacro %}

{% macro spark__try_cast_timestamp_utc(expression) -%}
    to_utc_timestamp(try_cast({{ expression }} as timestamp), 'UTC')
{%- endmacro %}
