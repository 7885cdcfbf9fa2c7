{#
    `relation.column` when the column exists, else a typed null. dlt creates a column only once a
    value has been seen, and ignores type hints on its nested tables, so a Stripe drop where no
    invoice line has, say, a proration flag has no such column; staging must still compile.
    Not engine-specific: it only reads the catalog through the adapter.
#}
{% macro column_or_null(relation, column, data_type, alias=none) -%}
    {%- set qualifier = alias if alias else relation.identifier -%}
    {%- if execute -%}
        {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- else -%}
        {%- set names = [] -%}
    {%- endif -%}
    {%- if column | lower in names -%}
        {{ qualifier }}.{{ column }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
