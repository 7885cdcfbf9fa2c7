"""CRM / CS exports (CSV) -> dataset `raw_crm`, every column as landed text.

Each resource merges on the export's id column: CRM rows are mutable (a ticket closes, an account
changes owner) and a later export of the same id replaces the earlier row. Which version is kept:
- within one file, the LAST record of an id (an export that appends updates); each earlier record
  of the id is quarantined (`duplicate_key_conflict` when it differs from the kept one,
  `duplicate_record` when identical);
- across files of one table (`accounts_2026-01.csv`, `accounts_2026-02.csv`, ...), the file later by
  path wins as an update, whether the files land in one run or in several (an earlier file landed
  again never overwrites an id stored from a later file).
Records that cannot be rows (ragged, not UTF-8, blank id) land in `quarantined_records`
(`pipelines/sources/csv_arrow.py`). Every table has every contract column (null when the export
lacks it) and exists even when its file is absent or header-only, so staging reads one shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import dlt
import pyarrow as pa

from pipelines.sources._files import DropFile
from pipelines.sources.csv_arrow import empty_text_table, read_csv_as_text
from pipelines.sources.quarantine import Quarantined, quarantine_resource

# table name -> primary key column (CONTRACT 1a)
CRM_TABLES = {
    "accounts": "account_id",
    "cs_activities": "activity_id",
    "nps_responses": "response_id",
    "support_tickets": "ticket_id",
    "health_overrides": "override_id",
}

# table name -> its contract columns (CONTRACT 1a), landed as text
CRM_COLUMNS = {
    "accounts": [
        "account_id", "name", "domain", "segment", "industry", "csm_owner", "stripe_customer_id",
        "created_at",
    ],
    "cs_activities": [
        "activity_id", "account_id", "occurred_at", "activity_type", "is_automated", "sentiment", "author",
    ],
    "nps_responses": ["response_id", "account_id", "respondent_email", "score", "submitted_at"],
    "support_tickets": ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "status"],
    "health_overrides": [
        "override_id", "account_id", "override_quadrant", "override_score", "note", "author", "created_at",
        "expires_at",
    ],
}  # fmt: skip


def text_columns(columns: list[str], keys: tuple[str, ...]) -> dict[str, dict]:
    """dlt column hints: every contract column text (created even when no record carries it)."""
    hints = {name: {"data_type": "text", "nullable": name not in keys} for name in columns}
    hints["_source_file"] = {"data_type": "text", "nullable": False}
    hints["_line_number"] = {"data_type": "bigint", "nullable": False}
    hints["_loaded_at"] = {"data_type": "timestamp", "nullable": True}
    return hints


def latest_versions(
    tables: list[pa.Table], key: list[str], stored_later: dict[tuple[str, ...], str] | None = None
) -> pa.Table:
    """The rows of `tables` (one per file, in path order) with each key's version from the latest
    file: a later file's row is an update of an earlier one's. `stored_later`: key -> the file it
    is stored from in the warehouse, for files not landed now; a row whose key is stored from a file
    later by path is left out (that later version stays)."""
    table = pa.concat_tables(tables, promote_options="permissive")
    if table.num_rows == 0 or (sum(1 for t in tables if t.num_rows) == 1 and not stored_later):
        return table  # one file: its repeated keys are resolved already (csv_arrow)
    keys = list(zip(*(table.column(k).to_pylist() for k in key), strict=True)) if key else []
    files = table.column("_source_file").to_pylist()
    last: dict[tuple[str, ...], int] = {}
    for position, value in enumerate(keys):
        last[value] = position
    keep = [
        last[value] == position and not (stored_later and stored_later.get(value, "") > files[position])
        for position, value in enumerate(keys)
    ]
    return table.filter(pa.array(keep)) if not all(keep) else table


def read_table_files(
    table: str,
    key: list[str],
    columns: list[str],
    files: list[DropFile],
    loaded_at: datetime,
    quarantined: list[Quarantined],
    stored_later: dict[tuple[str, ...], str] | None = None,
) -> pa.Table:
    """Every file of one table read (quarantines appended to `quarantined`), the latest version of
    each key kept, with at least the contract's columns."""
    parts = [empty_text_table(columns, loaded_at)]
    for file in files:
        part, bad = read_csv_as_text(file, loaded_at, table, key, columns)
        parts.append(part)
        quarantined.extend(bad)
    table = latest_versions(parts, key, stored_later)
    # nullability as dlt's hints have it (keys and landing columns are never null)
    required = {*key, "_source_file", "_line_number"}
    fields = [f.with_nullable(False) if f.name in required else f for f in table.schema]
    return table.cast(pa.schema(fields))


@dlt.source(name="crm", max_table_nesting=0)
def crm_source(
    files_by_table: dict[str, list[DropFile]],
    loaded_at: datetime,
    stored_later: dict[str, dict[tuple[str, ...], str]] | None = None,
):
    """The CRM source: one merge resource per CSV export, and `quarantined_records`.

    The files are read here, before dlt extracts anything, so the quarantine is complete whatever
    order dlt runs the resources in (they are small exports)."""
    quarantined: list[Quarantined] = []
    tables = {
        table: read_table_files(
            table,
            [key],
            CRM_COLUMNS[table],
            files_by_table.get(table, []),
            loaded_at,
            quarantined,
            (stored_later or {}).get(table),
        )
        for table, key in CRM_TABLES.items()
    }

    def make_resource(table: str, key: str):
        @dlt.resource(
            name=table,
            primary_key=key,
            write_disposition="merge",
            columns=text_columns(CRM_COLUMNS[table], (key,)),
        )
        def rows() -> Iterator[pa.Table]:
            yield tables[table]

        return rows

    return [
        *(make_resource(table, key) for table, key in CRM_TABLES.items()),
        quarantine_resource(quarantined, loaded_at),
    ]
