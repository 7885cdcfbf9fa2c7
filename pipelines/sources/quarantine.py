"""Records the loader cannot land as rows of their table (CONTRACT 1b), kept with a reason.

A line that is not JSON, a CSV row with the wrong number of fields, bytes that are not UTF-8, the
unreadable tail of a truncated gzip file, the superseded copy of a key repeated in one file: none of
these can become a row of its raw table, so each lands instead in its dataset's
`quarantined_records` table (one per raw dataset: `raw_product`, `raw_stripe`, `raw_crm`). dbt's
`quality.rejected_records` reads them like any other rejection, and the reconciliation test counts
them: per raw table, raw rows + quarantined rows = staged rows + rejected rows.

The table merges on `_source_file`: a file landed again replaces its quarantined rows, so re-running
a load never counts a record twice. It always exists (declared columns, created even when empty), so
staging reads one shape whatever the drop holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa

QUARANTINE_TABLE = "quarantined_records"

# Reasons the loader gives (staging adds its own in the base_ models).
MALFORMED_JSON = "malformed_json"
NOT_A_JSON_OBJECT = "not_a_json_object"
INVALID_UTF8 = "invalid_utf8"
TRUNCATED_FILE = "truncated_file"
RAGGED_ROW = "ragged_row"
MISSING_KEY = "missing_key"
DUPLICATE_KEY_CONFLICT = "duplicate_key_conflict"
DUPLICATE_RECORD = "duplicate_record"

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_table", pa.string(), nullable=False),
        pa.field("record_key", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_payload", pa.string()),
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_line_number", pa.int64(), nullable=False),
        pa.field("_loaded_at", pa.timestamp("us", tz="UTC")),
    ]
)

QUARANTINE_COLUMNS = {
    "source_table": {"data_type": "text", "nullable": False},
    "record_key": {"data_type": "text", "nullable": True},
    "reason": {"data_type": "text", "nullable": False},
    "raw_payload": {"data_type": "text", "nullable": True},
    "_source_file": {"data_type": "text", "nullable": False},
    "_line_number": {"data_type": "bigint", "nullable": False},
    "_loaded_at": {"data_type": "timestamp", "nullable": True},
}


@dataclass(frozen=True)
class Quarantined:
    """One record the loader could not land."""

    source_table: str
    reason: str
    source_file: str
    line_number: int
    raw_payload: str | None = None
    record_key: str | None = None


def to_arrow(records: Iterable[Quarantined], loaded_at: datetime) -> pa.Table:
    records = list(records)
    return pa.table(
        {
            "source_table": [r.source_table for r in records],
            # no key of its own: the place it was delivered is the key
            "record_key": [r.record_key or f"{r.source_file}:{r.line_number}" for r in records],
            "reason": [r.reason for r in records],
            "raw_payload": [r.raw_payload for r in records],
            "_source_file": [r.source_file for r in records],
            "_line_number": [r.line_number for r in records],
            "_loaded_at": [loaded_at] * len(records),
        },
        schema=QUARANTINE_SCHEMA,
    )


def quarantine_resource(records: Iterable[Quarantined] | Any, loaded_at: datetime):
    """The dlt resource of a source's quarantined records.

    `records` must be complete before the pipeline runs: dlt extracts a source's resources
    interleaved (round_robin), so a list the other resources append to while reading their files
    may not be complete when this one runs. The sources find their quarantine while planning (CSV
    and Stripe files are read in the source function, event files by `EventParse`). It yields an
    empty Arrow table when nothing was quarantined: dlt still creates the table (tested in
    tests/python/test_load_bad_input.py), so staging reads one shape whatever the drop holds.
    """

    @dlt.resource(
        name=QUARANTINE_TABLE,
        write_disposition="merge",
        primary_key=("_source_file", "_line_number", "source_table"),
        merge_key="_source_file",
        columns=QUARANTINE_COLUMNS,
    )
    def quarantined_records() -> Iterator[pa.Table]:
        yield to_arrow(records, loaded_at)

    return quarantined_records
