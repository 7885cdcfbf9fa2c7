{#
    The one place that says how the day-grain incremental models (usage) replace the days they
    reprocess. DuckDB and PostgreSQL delete the reprocessed keys and insert them again
    (`delete+insert` on the model's unique key, one transaction); Spark without Delta has neither
    delete nor merge and overwrites the reprocessed `date_day` partitions instead.
#}
{% macro day_grain_incremental_strategy() -%}
    {{ return(adapter.dispatch('day_grain_incremental_strategy', 'account_health')()) }}
{%- endmacro %}

{% macro default__day_grain_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__day_grain_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{# Partitioning that goes with the strategy: none where keys are deleted, `date_day` on Spark. #}
{% macro day_grain_partition_by() -%}
    {{ return(adapter.dispatch('day_grain_partition_by', 'account_health')()) }}
{%- endmacro %}

{% macro default__day_grain_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__day_grain_partition_by() -%}
    {{ return(['date_day']) }}
{%- endmacro %}
