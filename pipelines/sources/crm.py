"""CRM / CS exports (CSV) -> dataset `raw_crm`, every column as landed text.

Each resource merges on the export's id column: CRM rows are mutable (a ticket closes, an account
changes owner) and a later export of the same id replaces the earlier row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import dlt
import pyarrow as pa

from pipelines.sources._files import DropFile
from pipelines.sources.csv_arrow import read_csv_as_text

# table name -> primary key column (CONTRACT 1a)
CRM_TABLES = {
    "accounts": "account_id",
    "cs_activities": "activity_id",
    "nps_responses": "response_id",
    "support_tickets": "ticket_id",
    "health_overrides": "override_id",
}


@dlt.source(name="crm", max_table_nesting=0)
def crm_source(files_by_table: dict[str, list[DropFile]], loaded_at: datetime):
    """The CRM source: one merge resource per CSV export."""

    def make_resource(table: str, key: str, files: list[DropFile]):
        @dlt.resource(name=table, primary_key=key, write_disposition="merge")
        def rows() -> Iterator[pa.Table]:
            for file in files:
                yield read_csv_as_text(file, loaded_at)

        return rows

    return [make_resource(table, key, files_by_table.get(table, [])) for table, key in CRM_TABLES.items()]
