"""Read a CSV of the drop into Arrow with every column as text (staging types and validates).

A record that cannot be a row of its table is quarantined instead (`pipelines/sources/quarantine.py`):
- `ragged_row`: a different number of fields than the header;
- `invalid_utf8`: bytes that are not UTF-8 (raw payload: the record with those bytes backslash-escaped);
- `missing_key`: a blank key (single-column keys): it could not be merged on;
- a key repeated within the file: the LAST record is kept (an export that appends updates), each
  earlier one is quarantined as `duplicate_key_conflict` when its content differs from the kept
  record, `duplicate_record` when identical.
A UTF-8 byte-order mark at the start of the file is skipped. Every column of `columns` (the contract's)
is a column of the result, null when the file lacks it, so the raw table's shape never depends on
the export.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.sources._files import DropFile
from pipelines.sources.quarantine import (
    DUPLICATE_KEY_CONFLICT,
    DUPLICATE_RECORD,
    INVALID_UTF8,
    MISSING_KEY,
    RAGGED_ROW,
    Quarantined,
)

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
LANDING_COLUMNS = ["_source_file", "_line_number", "_loaded_at"]
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8


def _escaped(text: str) -> str:
    """Text decoded with surrogateescape, undecodable bytes shown as `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _record_text(fields: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def text_table(
    rows: dict[str, Any], columns: Sequence[str], extra: Sequence[str], loaded_at: datetime
) -> pa.Table:
    """Arrow table of text columns `columns` (+ `extra` header columns), then the landing columns."""
    length = len(rows["_source_file"])
    arrays = {}
    for name in [*columns, *[c for c in extra if c not in columns]]:
        values = rows.get(name)
        if isinstance(values, pa.ChunkedArray):
            arrays[name] = values
        else:
            arrays[name] = pa.array(values if values is not None else [None] * length, pa.string())
    arrays["_source_file"] = pa.array(rows["_source_file"], pa.string())
    arrays["_line_number"] = pa.array(rows["_line_number"], pa.int64())
    arrays["_loaded_at"] = pa.repeat(pa.scalar(loaded_at, pa.timestamp("us", tz="UTC")), length)
    return pa.table(arrays)


def empty_text_table(columns: Sequence[str], loaded_at: datetime) -> pa.Table:
    return text_table({"_source_file": [], "_line_number": []}, columns, [], loaded_at)


def read_csv_records(
    file: DropFile, source_table: str, key: Sequence[str]
) -> tuple[list[str], list[tuple[int, list[str]]], list[Quarantined]]:
    """(header, [(record number, fields)] kept, quarantined) of one CSV file. Record numbers count
    data records from 1 (a quoted field may span lines)."""
    data = file.path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text, clean = data.decode("utf-8"), True
    except UnicodeDecodeError:  # bad bytes become lone surrogates, found per record below
        text, clean = data.decode("utf-8", "surrogateescape"), False
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    if not clean and _NOT_UTF8.search("".join(header)):
        raise ValueError(f"{file.relative_path}: the header is not UTF-8")
    positions = [header.index(k) for k in key] if all(k in header for k in key) else None
    quarantined: list[Quarantined] = []
    # key -> every (record number, fields) of the key, in file order; the last one is kept
    by_key: dict[tuple[str, ...], list[tuple[int, list[str]]]] = {}
    unkeyed: list[tuple[int, list[str]]] = []
    number = 0
    for fields in reader:
        if not fields:  # a blank line is not a record
            continue
        number += 1

        def quarantine(reason: str, fields: list[str] = fields, number: int = number) -> None:
            payload = _escaped(_record_text(fields))
            quarantined.append(Quarantined(source_table, reason, file.relative_path, number, payload))

        if not clean and _NOT_UTF8.search("".join(fields)):
            quarantine(INVALID_UTF8)
        elif len(fields) != len(header):
            quarantine(RAGGED_ROW)
        elif positions is None:
            unkeyed.append((number, fields))
        elif len(key) == 1 and not fields[positions[0]].strip():
            quarantine(MISSING_KEY)
        else:
            by_key.setdefault(tuple(fields[p] for p in positions), []).append((number, fields))
    records = unkeyed
    for record_key, versions in by_key.items():
        last = versions[-1]
        records.append(last)
        for number, fields in versions[:-1]:
            reason = DUPLICATE_RECORD if fields == last[1] else DUPLICATE_KEY_CONFLICT
            quarantined.append(
                Quarantined(
                    source_table,
                    reason,
                    file.relative_path,
                    number,
                    _record_text(fields),
                    "|".join(record_key),
                )
            )
    records.sort(key=lambda item: item[0])
    quarantined.sort(key=lambda item: item.line_number)
    return header, records, quarantined


def _read_clean(data: bytes, text: str, key: Sequence[str]) -> tuple[list[str], pa.Table] | None:
    """(header, text columns) of a CSV read by Arrow, or None when the file needs the record-by-record
    path: a ragged row, a blank id, or an id repeated in the file (`text` is `data` decoded)."""
    header = [name.strip() for name in next(csv.reader(io.StringIO(text, newline="")), [])]
    if not header or len(set(header)) != len(header):
        return None
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:  # a ragged row
        return None
    if key and all(k in header for k in key) and table.num_rows:
        if len(key) == 1 and pc.any(pc.equal(pc.utf8_trim_whitespace(table.column(key[0])), "")).as_py():
            return None
        counts = table.group_by(list(key)).aggregate([([], "count_all")])
        if counts.num_rows != table.num_rows:
            return None
    return header, table


def read_csv_as_text(
    file: DropFile,
    loaded_at: datetime,
    source_table: str = "",
    key: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> tuple[pa.Table, list[Quarantined]]:
    """The CSV as landed: text columns, empty cells as '' (never null, so key columns stay
    non-null), every column of `columns` (null when the file lacks it) and of the header, plus
    `_source_file`, `_line_number` (1 = first data record) and `_loaded_at`; and the records
    quarantined (see the module docstring). A clean file (the usual case) is read by Arrow; a file
    with something to quarantine record by record in Python."""
    data = file.path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    clean = None
    with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: read record by record
        clean = _read_clean(data, data.decode("utf-8"), key)
    if clean is not None:
        header, parsed = clean
        rows: dict[str, list | pa.ChunkedArray] = {name: parsed.column(name) for name in header}
        quarantined: list[Quarantined] = []
        numbers: Sequence[int] | range = range(1, parsed.num_rows + 1)
    else:
        header, records, quarantined = read_csv_records(file, source_table or file.path.stem, key)
        rows = {name: [fields[i] for _, fields in records] for i, name in enumerate(header)}
        numbers = [number for number, _ in records]
    rows["_source_file"] = [file.relative_path] * len(numbers)
    rows["_line_number"] = list(numbers)
    table = text_table(rows, columns or header, header, loaded_at)
    log.info("%s: read %d rows, quarantined %d", file.relative_path, table.num_rows, len(quarantined))
    return table, quarantined
