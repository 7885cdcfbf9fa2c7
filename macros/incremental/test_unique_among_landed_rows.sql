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
{{ duplicates_of_new_keys_sql(landed, model, column_name, filter) }}
{%- else %}
{{ duplicates_of_all_keys_sql(model, column_name) }}
{%- endif %}
{% endtest %}
