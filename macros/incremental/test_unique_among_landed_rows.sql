{#
    `unique` for the staged events on an incremental run (issue 9): every key of the rows landed since
    the identity models' previous build (rewritten_rows_filter: `loaded_at` after their mark) must
    occur once among all landed rows, `landed` (base_product__events: every raw row, valid or
    rejected). Counting over the base view reads its key column only; the staged view would parse
    every raw timestamp to apply its rejection filter first. Stricter than unique over the staged
    rows (a rejected raw row sharing a new row's key fails too; the loader stores one row per key).
    On a full refresh, with `test_all_rows`, or before the identity models keep `_built_at`: dbt's
    `unique` over the whole model.
#}
{% test unique_among_landed_rows(model, column_name, landed) %}
{%- set filter = rewritten_rows_filter(model) %}

{%- if filter %}
select
    landed_rows.{{ column_name }} as unique_field,
    count(*) as n_records
from {{ landed }} as landed_rows
-- a join to the distinct new keys, not `in (select ...)` (see unique_in_rewritten_rows)
inner join (
    select distinct new_rows.{{ column_name }}
    from {{ model }} as new_rows
    where new_rows.{{ filter }}
) as new_keys
    on landed_rows.{{ column_name }} = new_keys.{{ column_name }}
group by landed_rows.{{ column_name }}
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
