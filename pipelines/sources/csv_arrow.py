"""Read a CSV of the drop into Arrow with every column as text (staging types and validates)."""

from __future__ import annotations

import csv
import logging
from datetime import datetime

import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.sources._files import DropFile

log = logging.getLogger(__name__)


def read_csv_as_text(file: DropFile, loaded_at: datetime) -> pa.Table:
    """The CSV as landed: text columns, empty cells as '' (never null, so key columns stay non-null),
    plus `_source_file`, `_line_number` (1 = first data row) and `_loaded_at`."""
    with file.path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    table = pacsv.read_csv(
        file.path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    rows = table.num_rows
    table = table.append_column("_source_file", pa.array([file.relative_path] * rows, pa.string()))
    table = table.append_column("_line_number", pa.array(range(1, rows + 1), pa.int64()))
    table = table.append_column("_loaded_at", pa.array([loaded_at] * rows, pa.timestamp("us", tz="UTC")))
    log.info("%s: read %d rows", file.relative_path, rows)
    return table
