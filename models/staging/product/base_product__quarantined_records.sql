-- Records the loader could not land as rows of their raw table, each with its reason
-- (macros/staging/quarantined_records.sql).
{{ base_quarantined_records('product') }}
