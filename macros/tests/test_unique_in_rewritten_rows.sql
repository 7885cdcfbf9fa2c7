{#
    `unique`, checked for the keys the latest run wrote: every row whose key is the key of a row of
    the latest write (macros/tests/rewritten_rows.sql), old rows included, must be alone. A
    duplicate between a new and an old row is caught; a duplicate among old rows only was caught
    by the run that wrote them. The join to the distinct new keys reads the key column once and
    groups only the new keys' rows, instead of grouping every key of the history. No `where` config: on a full refresh,
    with `test_all_rows`, or without `_built_at` it is dbt's `unique` over the whole table.
#}
{% test unique_in_rewritten_rows(model, column_name) %}
{%- set filter = rewritten_rows_filter(model) %}

{%- if filter %}
select
    all_rows.{{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }} as all_rows
-- a join to the distinct new keys, not `in (select ...)`: DuckDB built its semi-join's hash table
-- from every row and probed it with the new keys (20M rows + 100k new: 9.4 s against 2.8 s)
inner join (
    select distinct new_rows.{{ column_name }}
    from {{ model }} as new_rows
    where new_rows.{{ filter }}
) as new_keys
    on all_rows.{{ column_name }} = new_keys.{{ column_name }}
group by all_rows.{{ column_name }}
having count(*) > 1
{%- else %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{%- endif %}

{% endtest %}
