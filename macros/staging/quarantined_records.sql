{#- The base view of one raw dataset's quarantined_records (pipelines/sources/quarantine.py): records
    the loader could not land as rows of their raw table, each already with its reason, so every
    row is a rejection for the raw table named in `source_table`. One macro for the three datasets,
    which land the table in one shape. #}
{% macro base_quarantined_records(source_name) %}
with

source as (
    select * from {{ source(source_name, 'quarantined_records') }}
),

checked as (
    select
        source.source_table,
        source.record_key,
        source.reason as rejection_reason,
        source.raw_payload,
        source._source_file as source_file,
        source._line_number as line_number,
        source._loaded_at as loaded_at
    from source
)

select * from checked
{% endmacro %}
