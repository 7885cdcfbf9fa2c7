{#
    `<alias>.<column>` when the raw table `raw_<source_name>.<table_name>` has that column, else a
    typed null. dlt creates a column only once a value has been seen, and ignores type hints on its
    nested tables, so a Stripe drop where no invoice line has, say, a proration flag has no such
    column; staging must still compile. The landed table is looked up by the layer convention
    (docs/ARCHITECTURE.md: dlt lands source X in schema raw_X), not through source(), because in unit
    tests source() points at a fixture CTE while the fixture's columns come from the real table.
    Not engine-specific: it only reads the catalog through the adapter.
#}
{% macro column_or_null(source_name, table_name, column, data_type, alias) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(
            database=target.database, schema='raw_' ~ source_name, identifier=table_name) -%}
        {%- if relation is not none -%}
            {%- for col in adapter.get_columns_in_relation(relation) -%}
                {%- do names.append(col.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- if column | lower in names -%}
        {{ alias }}.{{ column }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
