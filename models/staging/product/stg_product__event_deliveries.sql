with

checked as (
    select * from {{ ref('base_product__event_deliveries') }}
),

final as (
    select
        event_delivery_id,
        event_id,
        source_file,
        line_number,
        payload_hash,
        _built_at
    from checked
    where rejection_reason is null
)

select * from final
