{# Text holding a whole number (optional sign) -> bigint; null otherwise (e.g. 'abc', '9.5', ''). #}
{% macro try_cast_integer(expression) -%}
    {{ return(adapter.dispatch('try_cast_integer', 'account_health')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_integer(expression) -%}
    cast({{ expression }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__try_cast_integer(expression) -%}
    case
        when regexp_full_match(trim({{ expression }}), '[+-]?\d{1,18}')
            then cast(trim({{ expression }}) as bigint)
    end
{%- endmacro %}

{% macro postgres__try_cast_integer(expression) -%}
    case
        when trim({{ expression }}) ~ '^[+-]?\d{1,18}$'
            then cast(trim({{ expression }}) as bigint)
    end
{%- endmacro %}

{% macro spark__try_cast_integer(expression) -%}
    case when trim({{ expression }}) rlike '^[+-]?[0-9]{1,18}$' then cast(trim({{ expression }}) as bigint) end
{%- endmacro %}
