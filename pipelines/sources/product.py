"""Product events (Segment messages) and account memberships -> dataset `raw_product`.

Events arrive as JSON lines (optionally gzipped) or as Parquet with the same fields snake_cased.
DuckDB parses them and streams Arrow record batches to dlt (dlt loads Arrow about 100x faster than
dict rows, ../shared/STACK_NOTES.md), so memory is bounded by a batch and DuckDB's memory limit, not
by the size of the drop. Every field is landed as text; dbt staging parses and validates it, so a bad
timestamp becomes a counted rejection, not a load failure.

One pass per run (`EventParse`):
1. JSON-lines files are parsed one file at a time into scratch Parquet files of the parsed shape;
   Parquet files of the drop are read in place (`read_parquet` over all of them).
2. `exclude_stored` finds the deliveries that must not become the stored copy of their message: a
   later delivery (by file, then line) of a message delivered twice in this run, or a delivery of a
   message already stored in `events` from a file not being landed now. Only message ids are read,
   inside DuckDB, and only duplicates come out: no Python object per event.
3. `batches` streams every delivery once with `_is_stored_copy`; the resource splits each batch
   into `events` (the stored copies) and `event_deliveries` (every delivery). A worker thread
   (`split_ahead`) parses and splits the next batches while dlt writes the current one, so DuckDB's
   parse and dlt's Parquet writer run at the same time.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
import tempfile
import threading
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.normalizers.utils import generate_dlt_ids

from pipelines.sources._files import DropFile
from pipelines.sources.crm import read_table_files, text_columns
from pipelines.sources.quarantine import INVALID_UTF8, TRUNCATED_FILE, Quarantined, quarantine_resource

log = logging.getLogger(__name__)

EVENT_FIELDS = [
    "message_id",
    "type",
    "user_id",
    "anonymous_id",
    "event",
    "timestamp",
    "received_at",
    "context_group_id",
    "group_id",
    "properties",
    "traits",
]
EVENT_COLUMNS = [*EVENT_FIELDS, "_payload_hash", "_source_file", "_line_number", "_loaded_at"]
DELIVERY_COLUMNS = [
    "_source_file",
    "_line_number",
    "message_id",
    "_payload_hash",
    "raw_line",
    "_is_json_object",
    "_loaded_at",
]
EVENT_KEYS = {"message_id", "_source_file"}  # primary key and, when merging, merge key
DELIVERY_KEYS = {"_source_file", "_line_number"}
BATCH_ROWS = 200_000
MEMBERSHIP_KEY = ("user_id", "account_id", "valid_from")
MEMBERSHIP_COLUMNS = ["user_id", "account_id", "role", "valid_from", "valid_to"]  # CONTRACT 1a
EVENT_DELIVERIES = "event_deliveries"  # the table a quarantined event line was meant for
_BOM = b"\xef\xbb\xbf"
# DuckDB's own memory for the parse (it spills to the scratch folder beyond this).
PARSE_MEMORY_LIMIT = "1GB"
# How far DuckDB may run ahead of the reader of the streamed batches. At DuckDB's default (976 KiB,
# less than one batch) the parse ran almost on one thread (per-thread CPU at `small`: 2.17 s and
# 0.67 s); with room for about two batches both threads parse (1.77 s and 1.01 s) while dlt's
# writer runs on the main thread.
PARSE_STREAMING_BUFFER = "128MB"

# JSON path of each landed field in a Segment message (CONTRACT 1a).
_JSON_PATHS = {
    "message_id": "$.messageId",
    "type": "$.type",
    "user_id": "$.userId",
    "anonymous_id": "$.anonymousId",
    "event": "$.event",
    "timestamp": "$.timestamp",
    "received_at": "$.receivedAt",
    "context_group_id": "$.context.groupId",
    "group_id": "$.groupId",
}

# The payload hash covers every landed field, with properties/traits minified by DuckDB's json(),
# so the same message hashes the same whether it came as a JSON line or a Parquet row. It is the
# MD5 of the fields as one JSON array of strings. json_array(...) writes the same text as the
# earlier to_json([...]) (same escapes, nulls as null; tests/python/test_load_pipeline.py checks
# both on awkward values), about a fifth cheaper, so hashes stored by earlier loads still compare
# equal. MD5, not DuckDB's hash(): the hash is stored and compared across loads, and hash() may
# change between DuckDB releases (duckdb/duckdb#17596).
_HASH_SQL = "md5(cast(json_array(" + ", ".join(EVENT_FIELDS) + ") as varchar))"
# The shape every event file is parsed to (the relation `parsed`).
_PARSED = ["source_file", "line_number", "line", "is_object", *EVENT_FIELDS, "payload_hash"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _lines_of(file: DropFile, quarantined: list[Quarantined], checked: bool) -> tuple[list[int], list[str]]:
    """(line numbers, lines) of the non-blank lines. `checked`: decode line by line, quarantining
    the lines that are not UTF-8 (the slower path, taken only for a file that has such bytes). The
    unreadable tail of a truncated gzip file (a partial last line included) is quarantined as one
    record naming the last line read."""
    gz = file.path.name.endswith(".gz")
    numbers: list[int] = []
    lines: list[str] = []
    last = 0
    mode, encoding = ("rb", None) if checked else ("rt", "utf-8-sig")  # -sig: a leading BOM is skipped
    with (gzip.open if gz else open)(file.path, mode, encoding=encoding) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                last = number
                if checked:
                    if number == 1 and line.startswith(_BOM):
                        line = line[len(_BOM) :]
                    try:
                        line = line.decode("utf-8")
                    except UnicodeDecodeError:
                        payload = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
                        quarantined.append(
                            Quarantined(EVENT_DELIVERIES, INVALID_UTF8, file.relative_path, number, payload)
                        )
                        continue
                text = line.rstrip("\r\n")
                if text.strip():  # blank lines are not records
                    numbers.append(number)
                    lines.append(text)
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            if not gz:
                raise
            log.warning("product: %s is truncated after line %d (%s)", file.relative_path, last, error)
            quarantined.append(
                Quarantined(
                    EVENT_DELIVERIES,
                    TRUNCATED_FILE,
                    file.relative_path,
                    last + 1,
                    json.dumps({"file": file.relative_path, "last_line_read": last, "error": str(error)}),
                    f"{file.relative_path}:after line {last}",
                )
            )
    return numbers, lines


def _read_lines(file: DropFile, quarantined: list[Quarantined] | None = None) -> pa.Table:
    """The non-blank lines of a JSON-lines file (gzipped or not) with their line numbers; what
    cannot be read is appended to `quarantined` (see `_lines_of`)."""
    found: list[Quarantined] = []
    try:
        numbers, lines = _lines_of(file, found, checked=False)
    except UnicodeDecodeError:
        found = []
        numbers, lines = _lines_of(file, found, checked=True)
    if quarantined is not None:
        quarantined.extend(found)
    return pa.table({"line_number": pa.array(numbers, pa.int64()), "line": pa.array(lines, pa.string())})


def _jsonl_sql(relative_path: str) -> str:
    """The parse of relation `lines` (line_number, line) of one JSON-lines file. One parse per
    line: the list forms of json_extract_string / json_extract read every path in one pass."""
    paths = ", ".join(f"'{path}'" for path in _JSON_PATHS.values())
    extracted = ",\n".join(
        f"nullif(string_fields[{position}], '') as {name}"
        for position, name in enumerate(_JSON_PATHS, start=1)
    )
    return f"""
        with checked as (
            select line_number, line,
                coalesce(case when json_valid(line) then json_type(line) = 'OBJECT' end, false) as is_object
            from lines
        ),
        parsed as (
            select line_number, line, is_object,
                case when is_object then json_extract_string(line, [{paths}]) end as string_fields,
                case when is_object then json_extract(line, ['$.properties', '$.traits']) end as json_fields
            from checked
        ),
        fields as (
            select line_number, line, is_object,
                {extracted},
                cast(json_fields[1] as varchar) as properties,
                cast(json_fields[2] as varchar) as traits
            from parsed
        )
        select {_literal(relative_path)} as source_file, line_number, line, is_object,
            {", ".join(EVENT_FIELDS)}, {_HASH_SQL} as payload_hash
        from fields
    """


def _parquet_sql(files: list[DropFile], columns: list[str]) -> str:
    """The parse of Parquet event files that share one set of columns, read in place."""
    present = set(columns)

    def text(name: str) -> str:
        return f"nullif(cast({_quote(name)} as varchar), '')" if name in present else "cast(null as varchar)"

    def json_text(name: str) -> str:
        if name not in present:
            return "cast(null as varchar)"
        q = _quote(name)
        return f"case when json_valid({q}) then cast(json({q}) as varchar) else {q} end"

    fields = ",\n".join(
        f"{json_text(name) if name in ('properties', 'traits') else text(name)} as {name}"
        for name in EVENT_FIELDS
    )
    # the row as JSON text (its own columns only), kept as raw_line when it has no message_id
    row_json = "to_json({" + ", ".join(f"{_literal(c)}: {_quote(c)}" for c in columns) + "})"
    paths = ", ".join(_literal(str(f.path)) for f in files)
    mapping = " union all ".join(
        f"select {_literal(str(f.path))} as filename, {_literal(f.relative_path)} as source_file"
        for f in files
    )
    return f"""
        select source_file, line_number, line, is_object, {", ".join(EVENT_FIELDS)},
            {_HASH_SQL} as payload_hash
        from (
            select f.source_file, p.file_row_number + 1 as line_number,
                case when {text("message_id")} is null then cast({row_json} as varchar) end as line,
                true as is_object,
                {fields}
            from read_parquet([{paths}], filename = true, file_row_number = true) as p
            inner join ({mapping}) as f on f.filename = p.filename
        )
    """


class EventParse:
    """The events of one landing run, parsed by a private DuckDB (see the module docstring)."""

    def __init__(self, files: list[DropFile], loaded_at: datetime, scratch_dir: str | Path | None = None):
        self.files = files
        self.loaded_at = loaded_at
        # Event tables have no `_dlt_id` (nothing reads it, and a random id per row was a third of
        # the landed bytes); a warehouse landed before that keeps getting one (`with_dlt_id`).
        self.with_dlt_id = False
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        self._scratch = tempfile.TemporaryDirectory(prefix="events_", dir=scratch_dir)
        self.con = duckdb.connect()
        self.con.execute("set timezone = 'UTC'")
        self.con.execute(f"set memory_limit = '{PARSE_MEMORY_LIMIT}'")
        self.con.execute(f"set temp_directory = {_literal(str(Path(self._scratch.name) / 'spill'))}")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute(f"set streaming_buffer_size = '{PARSE_STREAMING_BUFFER}'")
        self._losers = pa.table(
            {"source_file": pa.array([], pa.string()), "line_number": pa.array([], pa.int64())}
        )
        # lines that cannot be deliveries (not UTF-8, a truncated gzip tail), found by `_prepare`
        self.quarantined: list[Quarantined] = []
        self._parts: list[str] = []
        self._parsed_sql = self._prepare(files) if files else None

    def __enter__(self) -> EventParse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        self._scratch.cleanup()

    def _prepare(self, files: list[DropFile]) -> str:
        """Parse `files` (added to those parsed before); the query of every parsed delivery."""
        parts = self._parts
        by_columns: dict[tuple[str, ...], list[DropFile]] = {}
        scratch = Path(self._scratch.name)
        for number, file in enumerate(files, start=len(parts)):
            if file.path.suffix == ".parquet":
                columns = tuple(pq.read_schema(file.path).names)
                by_columns.setdefault(columns, []).append(file)
                continue
            lines = _read_lines(file, self.quarantined)  # noqa: F841 (read by DuckDB's replacement scan)
            target = scratch / f"jsonl_{number:06d}_{len(parts)}.parquet"
            self.con.execute(
                f"copy ({_jsonl_sql(file.relative_path)}) to {_literal(str(target))} (format parquet)"
            )
            log.info("product: parsed %s (%d deliveries)", file.relative_path, lines.num_rows)
            parts.append(f"select {', '.join(_PARSED)} from read_parquet({_literal(str(target))})")
        for columns, group in by_columns.items():
            parts.append(_parquet_sql(group, list(columns)))
        return "\nunion all\n".join(f"({part})" for part in parts)

    def add_files(self, files: list[DropFile]) -> None:
        """Parse more files into this run (before `exclude_stored`)."""
        if files:
            self.files = sorted([*self.files, *files], key=lambda f: f.relative_path)
            self._parsed_sql = self._prepare(files)

    def undelivered(self, stored_elsewhere: pa.Table) -> set[str]:
        """The files of `stored_elsewhere` (`source_file`, `message_id`: other deliveries of messages
        stored from files parsed now) delivering a message that no parsed file delivers any more."""
        if self._parsed_sql is None or stored_elsewhere.num_rows == 0:
            return set()
        others = stored_elsewhere  # noqa: F841 (read by DuckDB's replacement scan)
        rows = self.con.sql(
            f"""
            select distinct source_file from others
            where message_id not in (
                select message_id from ({self._parsed_sql}) where is_object and message_id is not null
            )
            """
        ).fetchall()
        return {row[0] for row in rows}

    def exclude_stored(self, stored_sql: str | None = None, stored_ids: pa.Table | None = None) -> int:
        """Find the deliveries that are not the stored copy of their message; returns how many.

        `stored_sql`: a query (on this connection, e.g. over an attached warehouse) of the message ids
        stored in `events` from files not being landed now; or `stored_ids`, the same as an Arrow
        table with one `message_id` column.
        """
        if self._parsed_sql is None:
            return 0
        ids = (
            f"select source_file, line_number, message_id from ({self._parsed_sql}) "
            "where is_object and message_id is not null"
        )
        # a later delivery of a message delivered more than once in this run (hash first: a
        # 64-bit key per delivery instead of the id text keeps the count small and fast)
        query = f"""
            with ids as ({ids}),
            repeated as (select hash(message_id) as h from ids group by 1 having count(*) > 1),
            ranked as (
                select source_file, line_number,
                    row_number() over (partition by message_id order by source_file, line_number) as position
                from ids where hash(message_id) in (select h from repeated)
            )
            select source_file, line_number from ranked where position > 1
        """
        if stored_ids is not None and stored_ids.num_rows:
            stored = stored_ids  # noqa: F841 (read by DuckDB's replacement scan)
            stored_sql = "select message_id from stored"
        if stored_sql:
            query = f"""
                {query}
                union
                select ids.source_file, ids.line_number
                from ({ids}) as ids inner join ({stored_sql}) as s on s.message_id = ids.message_id
            """
        result = self.con.sql(query).arrow()
        self._losers = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
        return self._losers.num_rows

    def deliveries_sql(self) -> str:
        """The query of every delivery once: the landed columns plus `_is_stored_copy`. It reads the
        relation `losers` (register `self._losers` under that name, as `batches` does)."""
        assert self._parsed_sql is not None
        loaded = self.loaded_at.isoformat()
        return f"""
            select
                p.source_file as _source_file,
                p.line_number as _line_number,
                {", ".join("p." + name for name in EVENT_FIELDS)},
                case when p.is_object and p.message_id is not null then p.payload_hash end as _payload_hash,
                -- kept where the line never reaches events: unreadable, or a duplicate delivery, whose
                -- content (a conflicting one differs) is otherwise only a hash
                case when not p.is_object or p.message_id is null or l.line_number is not null
                    then p.line end as raw_line,
                -- landing fact kept for staging: was the delivered line a JSON object at all?
                p.is_object as _is_json_object,
                cast('{loaded}' as timestamptz) as _loaded_at,
                {"cast(gen_random_uuid() as varchar) as _dlt_id," if self.with_dlt_id else ""}
                p.is_object and p.message_id is not null and l.line_number is null as _is_stored_copy
            from ({self._parsed_sql}) as p
            left join losers as l on l.source_file = p.source_file and l.line_number = p.line_number
        """

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every delivery once, as record batches of the landed columns plus `_is_stored_copy`."""
        if self._parsed_sql is None:
            return
        losers = self._losers  # noqa: F841 (read by DuckDB's replacement scan)
        result = self.con.execute(self.deliveries_sql())
        reader = (
            result.to_arrow_reader(BATCH_ROWS)
            if hasattr(result, "to_arrow_reader")
            else result.fetch_record_batch(BATCH_ROWS)
        )
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            if batch.num_rows:
                yield batch


def split_batch(batch: pa.RecordBatch) -> tuple[pa.Table, pa.Table]:
    """(events, deliveries) of one batch of `EventParse.batches`."""
    table = pa.Table.from_batches([batch])
    extra = ["_dlt_id"] if "_dlt_id" in table.column_names else []
    events = table.select(EVENT_COLUMNS + extra)
    stored = table.column("_is_stored_copy")
    if stored.null_count or not pc.all(stored).as_py():  # else every row is stored: no copy
        events = events.filter(stored)
    deliveries = table.select(DELIVERY_COLUMNS + extra)
    return _required(events, EVENT_KEYS), _required(deliveries, DELIVERY_KEYS)


def split_ahead(parse: EventParse, depth: int = 2) -> Iterator[tuple[pa.Table, pa.Table]]:
    """`split_batch` of every batch of `parse.batches()`, made by a worker thread up to `depth`
    batches ahead: DuckDB parses the next batch while dlt writes the current one to its load
    package (the Parquet writer runs in the caller's thread), so the two use both cores. The
    worker is the only user of the parse's connection while this runs."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in parse.batches():
                if not put(split_batch(batch)):
                    return
            put(finished)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=work, name="event-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a worker waiting to hand over a batch gives up within 0.1 s
        worker.join()


def _required(table: pa.Table, keys: set[str]) -> pa.Table:
    """Key columns (never null here) marked non-nullable, as dlt's key hints have them."""
    fields = [field.with_nullable(False) if field.name in keys else field for field in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def parse_event_files(
    files: list[DropFile], loaded_at: datetime, stored_ids: pa.Table | None = None
) -> tuple[pa.Table, pa.Table]:
    """All events and deliveries of `files` as two Arrow tables (for tests and small drops)."""
    with EventParse(files, loaded_at) as parse:
        parse.exclude_stored(stored_ids=stored_ids)
        parts = list(split_ahead(parse))
    if not parts:
        return pa.table({}), pa.table({})
    order = [("_source_file", "ascending"), ("_line_number", "ascending")]
    events = pa.concat_tables([p[0] for p in parts]).sort_by(order)
    deliveries = pa.concat_tables([p[1] for p in parts]).sort_by(order)
    return events, deliveries


def _keys(replace: bool, primary_key: Any) -> dict[str, Any]:
    """Hints of an event table: append when every file is new (nothing to replace: the fast path,
    one `insert ... select from read_parquet` per table), else merge replacing the files' rows."""
    if replace:
        return {"write_disposition": "merge", "primary_key": primary_key, "merge_key": "_source_file"}
    return {"write_disposition": "append", "primary_key": primary_key}


@dlt.source(name="product", max_table_nesting=0)
def product_source(
    event_parse: EventParse | None,
    membership_files: list[DropFile],
    loaded_at: datetime,
    replace_event_files: bool = False,
    stored_later_memberships: dict[tuple[str, ...], str] | None = None,
):
    """The product source: Segment events, their deliveries, and account memberships.

    `event_parse` has already run `exclude_stored`. `replace_event_files`: some of the files being
    landed already have rows in the warehouse (changed files, or a run that failed half-way), so the
    event tables merge on `_source_file` instead of appending. `stored_later_memberships`: membership
    keys stored from files not landed now (see `crm.latest_versions`).
    """
    delivery_hints = dlt.mark.make_hints(
        table_name="event_deliveries", **_keys(replace_event_files, ["_source_file", "_line_number"])
    )

    # events: the first delivery (by file, then line) of each message, never one already stored
    # from another file; event_deliveries: every delivered line or row, its own table variant.
    @dlt.resource(name="events", **_keys(replace_event_files, "message_id"))
    def events() -> Iterator[Any]:
        if event_parse is None:
            return
        for stored, deliveries in split_ahead(event_parse):
            if stored.num_rows:
                yield stored
            yield dlt.mark.with_hints(deliveries, delivery_hints, create_table_variant=True)

    # merge on the membership's natural key: a corrected row replaces the old one. The files are
    # read here, before dlt extracts anything, so the quarantine below is complete whatever order
    # dlt runs the resources in.
    quarantined = list(event_parse.quarantined) if event_parse is not None else []
    memberships = read_table_files(
        "account_memberships",
        list(MEMBERSHIP_KEY),
        MEMBERSHIP_COLUMNS,
        membership_files,
        loaded_at,
        quarantined,
        stored_later_memberships,
    )

    @dlt.resource(
        name="account_memberships",
        primary_key=MEMBERSHIP_KEY,
        write_disposition="merge",
        columns=text_columns(MEMBERSHIP_COLUMNS, MEMBERSHIP_KEY),
    )
    def account_memberships() -> Iterator[pa.Table]:
        table = memberships
        yield table.append_column("_dlt_id", pa.array(generate_dlt_ids(table.num_rows), pa.string()))

    return events, account_memberships, quarantine_resource(quarantined, loaded_at)
