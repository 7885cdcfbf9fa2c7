{#
    Schemas are exactly the layer names (raw_<source>, staging, intermediate, marts, quality),
    not dbt's default <target_schema>_<custom>: BI users and the app query `marts.dim_accounts`
    on every engine. A model without a custom schema lands in the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
