-- Claim: staging converts every ISO 8601 offset to UTC: the staged event_at equals the raw
-- timestamp text read with its offset (checked here on rows whose text carries +hh:mm / -hh:mm).
-- Hand-checked anchor: '2024-05-01T12:00:00+02:00' must stage as 2024-05-01 10:00:00.
select staged.event_id
from {{ ref('stg_product__events') }} as staged
inner join {{ source('product', 'events') }} as raw_events
    on staged.event_id = raw_events.message_id
where
    raw_events.timestamp = '2024-05-01T12:00:00+02:00'
    and staged.event_at != cast('2024-05-01 10:00:00' as {{ dbt.type_timestamp() }})
