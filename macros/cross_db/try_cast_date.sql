{# Text `YYYY-MM-DD` -> date; null when it is not a date (staging rejects the row). #}
{% macro try_cast_date(expression) -%}
    {{ return(adapter.dispatch('try_cast_date', 'account_health')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_date(expression) -%}
    cast({{ expression }} as date)
{%- endmacro %}

{% macro duckdb__try_cast_date(expression) -%}
    case
        when regexp_full_match({{ expression }}, '\d{4}-\d{2}-\d{2}')
            then try_cast({{ expression }} as date)
    end
{%- endmacro %}

{% macro postgres__try_cast_date(expression) -%}
    case
        when {{ expression }} ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$'
            then cast({{ expression }} as date)
    end
{%- endmacro %}

{% macro spark__try_cast_date(expression) -%}
    case when {{ expression }} rlike '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then try_cast({{ expression }} as date) end
{%- endmacro %}
