{# The text value of a top-level key of a JSON text column (null when absent). #}
{% macro json_extract_text(json_text, key) -%}
    {{ return(adapter.dispatch('json_extract_text', 'account_health')(json_text, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(json_text, key) -%}
    cast({{ json_text }} as json) ->> '{{ key }}'
{%- endmacro %}

{% macro duckdb__json_extract_text(json_text, key) -%}
    json_extract_string({{ json_text }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_extract_text(json_text, key) -%}
    cast({{ json_text }} as json) ->> '{{ key }}'
{%- endmacro %}

{% macro spark__json_extract_text(json_text, key) -%}
    get_json_object({{ json_text }}, '$.{{ key }}')
{%- endmacro %}
