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

{#
    Changed days of the incremental health chain (int_usage_signals_rolled_to_account_days,
    int_cs_signals_rolled_to_account_days, int_health_components_scored, fct_account_health_daily).

    Each of them keeps, per account-day, a fingerprint of the inputs it read for that day (its
    config included). A run fingerprints the current inputs of every account-day (a cheap scan, no
    windows) and compares them with the built ones: the first day that differs - a new day, a late
    event, an edited CRM or billing row, an account-day that disappeared - is where reprocessing
    starts. A config or seed change changes every day's fingerprint, so everything is reprocessed.
    Each model then re-reads its inputs from that day minus its longest rolling window, carries its
    running values (last active day, ...) from the built rows before it, and replaces the days from
    it on (day_grain_incremental_strategy). Nothing changed: no day is replaced.
#}

{#
    A fingerprint of some columns of a row, as text. Anywhere: md5 of their text, a null spelled '~'.
    DuckDB: its 64-bit hash() of the values themselves, no cast to text. A run fingerprints every
    account-day of four models; at 48M events (6.7M account-days) the md5s were the largest single
    step of each of them (issue 9; 1.5 s of 2.3 s at 1.6M account-days). A change that hash() misses
    needs a 64-bit collision on that row. Fingerprints are compared only with fingerprints the same
    engine wrote; a warehouse built with the md5s reprocesses its history once.
#}
{% macro day_grain_fingerprint(columns) -%}
    {{ return(adapter.dispatch('day_grain_fingerprint', 'account_health')(columns)) }}
{%- endmacro %}

{% macro default__day_grain_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(" ~ dbt.cast(column, dbt.type_string()) ~ ", '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ return(dbt.hash(dbt.concat(parts))) }}
{%- endmacro %}

{% macro duckdb__day_grain_fingerprint(columns) -%}
    {{ return(dbt.cast("hash(" ~ columns | join(", ") ~ ")", dbt.type_string())) }}
{%- endmacro %}

{#
    The first account-day whose fingerprint differs between `current` and `built` (relations or
    CTE names with account_id, date_day and input_fingerprint), as one row `first_changed_date`
    (null when nothing changed).
#}
{% macro day_grain_first_changed_day(current, built) -%}
    select min(coalesce(current_days.date_day, built_days.date_day)) as first_changed_date
    from {{ current }} as current_days
    full outer join {{ built }} as built_days
        on
            current_days.account_id = built_days.account_id
            and current_days.date_day = built_days.date_day
    where
        current_days.date_day is null
        or built_days.date_day is null
        or current_days.input_fingerprint <> built_days.input_fingerprint
{%- endmacro %}

{#
    One row `reprocess_from_date`: the first changed day in an incremental run (a day after every
    built day when nothing changed), 1900-01-01 in a full build or when the built table has no
    input_fingerprint yet (built before the model was incremental: reprocessed in full once).
#}
{% macro day_grain_reprocess_window(current) -%}
    {%- set built_columns = [] -%}
    {%- if is_incremental() -%}
        {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- endif -%}
    {#- A table built before it kept fingerprints is reprocessed in full once. -#}
    {%- if 'input_fingerprint' in built_columns %}
    select
        coalesce(
            changed_days.first_changed_date,
            cast('9999-12-31' as date)
        ) as reprocess_from_date
    from (
        {{ day_grain_first_changed_day(current, this) }}
    ) as changed_days
    {%- else %}
    select cast('1900-01-01' as date) as reprocess_from_date
    {%- endif %}
{%- endmacro %}

{#
    One row `config_fingerprint`: a fingerprint of every row of a seed or config relation. Spark's
    listagg cannot order (and warns): its models are tables there, never compared, so no order.
#}
{% macro day_grain_config_fingerprint(relation, columns, where=none) -%}
    {%- set row_fingerprint = day_grain_fingerprint(columns) -%}
    {%- set order_by = none if target.type == 'spark' else "order by " ~ row_fingerprint -%}
    select {{ dbt.hash(dbt.listagg(row_fingerprint, "'|'", order_by)) }} as config_fingerprint
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
{%- endmacro %}

{#
    The model's built rows in an incremental run, an empty relation with `columns` ([(name, type)])
    in a full build: where running values are carried from.
#}
{% macro day_grain_built_rows(columns) -%}
    {%- if is_incremental() -%}
        {{ this }}
    {%- else -%}
        (
            select
            {%- for name, type in columns %}
                cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
            where 1 = 0
        )
    {%- endif -%}
{%- endmacro %}
