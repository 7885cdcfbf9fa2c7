-- Records the loader could not land as rows of their raw table (pipelines/sources/quarantine.py),
-- each already with its reason: every row is a rejection, for the raw table in `source_table`.
with

source as (
    select * from {{ source('product', 'quarantined_records') }}
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
