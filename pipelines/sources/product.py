"""Product events (Segment messages) and account memberships -> dataset `raw_product`.

Events arrive as JSON lines (optionally gzipped) or as Parquet with the same fields snake_cased.
Both forms are parsed with DuckDB into Arrow and yielded as Arrow tables: dlt loads Arrow about 100x
faster than dict rows (../shared/STACK_NOTES.md). Every field is landed as text; dbt staging parses
and validates it, so a bad timestamp becomes a counted rejection, not a load failure.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from datetime import datetime

import dlt
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.sources._files import DropFile
from pipelines.sources.csv_arrow import read_csv_as_text

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
# so the same message hashes the same whether it came as a JSON line or a Parquet row.
_HASH_SQL = "md5(cast(to_json([" + ", ".join(EVENT_FIELDS) + "]) as varchar))"


def _table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A DuckDB relation as an Arrow table (DuckDB 1.5 `.arrow()` returns a batch reader)."""
    result = relation.arrow()
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def _read_lines(file: DropFile) -> pa.Table:
    opener = gzip.open if file.path.name.endswith(".gz") else open
    numbers: list[int] = []
    lines: list[str] = []
    with opener(file.path, "rt", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if text.strip():  # blank lines are not records
                numbers.append(number)
                lines.append(text)
    return pa.table({"line_number": pa.array(numbers, pa.int64()), "line": pa.array(lines, pa.string())})


def _parse_jsonl(con: duckdb.DuckDBPyConnection, files: list[DropFile]) -> pa.Table:
    """Every line of the JSON-lines files, parsed in one DuckDB query (one query per file cost
    ~0.1 s each: a year of daily files spent more time in query overhead than in parsing)."""
    parts = []
    for file in files:
        part = _read_lines(file)
        parts.append(
            part.append_column("source_file", pa.array([file.relative_path] * part.num_rows, pa.string()))
        )
        log.info("product: read %s (%d deliveries)", file.relative_path, part.num_rows)
    lines = pa.concat_tables(parts)  # noqa: F841 (read by DuckDB's replacement scan)
    # One parse per line: the list forms of json_extract_string / json_extract read every path in
    # one pass (one call per field parsed each line eleven times: 2x slower landing).
    paths = ", ".join(f"'{path}'" for path in _JSON_PATHS.values())
    extracted = ",\n".join(
        f"nullif(string_fields[{position}], '') as {name}"
        for position, name in enumerate(_JSON_PATHS, start=1)
    )
    return _table(
        con.sql(
            f"""
        with checked as (
            select source_file, line_number, line,
                coalesce(case when json_valid(line) then json_type(line) = 'OBJECT' end, false) as is_object
            from lines
        ),
        parsed as (
            select source_file, line_number, line, is_object,
                case when is_object then json_extract_string(line, [{paths}]) end as string_fields,
                case when is_object then json_extract(line, ['$.properties', '$.traits']) end as json_fields
            from checked
        ),
        fields as (
            select source_file, line_number, line, is_object,
                {extracted},
                cast(json_fields[1] as varchar) as properties,
                cast(json_fields[2] as varchar) as traits
            from parsed
        )
        select * exclude (source_file), {_HASH_SQL} as payload_hash, source_file from fields
        """
        )
    )


def _parse_parquet(con: duckdb.DuckDBPyConnection, file: DropFile) -> pa.Table:
    rows = pq.read_table(file.path)
    present = set(rows.column_names)
    rows = rows.append_column("line_number", pa.array(range(1, rows.num_rows + 1), pa.int64()))  # noqa: F841

    def text(name: str) -> str:
        return f"nullif(cast({name} as varchar), '')" if name in present else "cast(null as varchar)"

    def json_text(name: str) -> str:
        if name not in present:
            return "cast(null as varchar)"
        return f"case when json_valid({name}) then cast(json({name}) as varchar) else {name} end"

    columns = ",\n".join(
        f"{json_text(name) if name in ('properties', 'traits') else text(name)} as {name}"
        for name in EVENT_FIELDS
    )
    # the row as JSON text (without our line number), kept as raw_line when it has no message_id
    row_json = "to_json({" + ", ".join(f"'{name}': \"{name}\"" for name in rows.column_names[:-1]) + "})"
    return _table(
        con.sql(
            f"""
        with fields as (
            select line_number, cast({row_json} as varchar) as line, true as is_object, {columns}
            from rows
        )
        select *, {_HASH_SQL} as payload_hash from fields
        """
        )
    )


def parse_event_files(
    files: list[DropFile], loaded_at: datetime, stored_elsewhere: pa.Table | None = None
) -> tuple[pa.Table, pa.Table]:
    """Parse event files into (events, event_deliveries) Arrow tables.

    `stored_elsewhere`: message ids (one `message_id` column) already stored in `events` from a file
    not being (re)landed now; the first stored copy of a message wins, so those ids are not written
    again.
    """
    con = duckdb.connect()
    parts = []
    for file in files:
        if file.path.suffix == ".parquet":
            parsed = _parse_parquet(con, file)
            parsed = parsed.append_column(
                "source_file", pa.array([file.relative_path] * parsed.num_rows, pa.string())
            )
            parts.append(parsed)
            log.info("product: parsed %s (%d deliveries)", file.relative_path, parsed.num_rows)
    line_files = [file for file in files if file.path.suffix != ".parquet"]
    if line_files:
        parts.append(_parse_jsonl(con, line_files))
    if not parts:
        con.close()
        return pa.table({}), pa.table({})
    all_rows = pa.concat_tables(parts, promote_options="permissive")  # noqa: F841
    con.execute("set timezone = 'UTC'")
    loaded = loaded_at.isoformat()
    deliveries = _table(
        con.sql(
            f"""
        select
            source_file as _source_file,
            line_number as _line_number,
            case when is_object then message_id end as message_id,
            case when is_object and message_id is not null then payload_hash end as _payload_hash,
            case when not is_object or message_id is null then line end as raw_line,
            -- landing fact kept for staging: was the delivered line a JSON object at all?
            is_object as _is_json_object,
            cast('{loaded}' as timestamptz) as _loaded_at
        from all_rows
        order by source_file, line_number
        """
        )
    )
    stored = (  # noqa: F841 (read by DuckDB's replacement scan)
        stored_elsewhere
        if stored_elsewhere is not None
        else pa.table({"message_id": pa.array([], pa.string())})
    )
    events = _table(
        con.sql(
            f"""
        select {", ".join(EVENT_FIELDS)},
            payload_hash as _payload_hash,
            source_file as _source_file,
            line_number as _line_number,
            cast('{loaded}' as timestamptz) as _loaded_at
        from all_rows
        where is_object and message_id is not null
            and message_id not in (select message_id from stored)
        -- the first delivery (by file, then line) of a message is the stored copy
        qualify row_number() over (partition by message_id order by source_file, line_number) = 1
        order by source_file, line_number
        """
        )
    )
    con.close()
    return events, deliveries


@dlt.source(name="product", max_table_nesting=0)
def product_source(
    event_files: list[DropFile],
    membership_files: list[DropFile],
    loaded_at: datetime,
    stored_elsewhere: pa.Table | None = None,
):
    """The product source: Segment events, their deliveries, and account memberships."""
    events_table, deliveries_table = parse_event_files(event_files, loaded_at, stored_elsewhere)

    # merge on message_id: a message delivered twice is one event (Segment's messageId is its identity).
    @dlt.resource(name="events", primary_key="message_id", write_disposition="merge")
    def events() -> Iterator[pa.Table]:
        if events_table.num_rows:
            yield events_table

    # merge on the delivery's position; merge_key _source_file replaces every delivery of a
    # re-landed file, so a file that shrank leaves no stale rows behind.
    @dlt.resource(
        name="event_deliveries",
        primary_key=("_source_file", "_line_number"),
        merge_key="_source_file",
        write_disposition="merge",
    )
    def event_deliveries() -> Iterator[pa.Table]:
        if deliveries_table.num_rows:
            yield deliveries_table

    # merge on the membership's natural key: a corrected row replaces the old one.
    @dlt.resource(
        name="account_memberships",
        primary_key=("user_id", "account_id", "valid_from"),
        write_disposition="merge",
    )
    def account_memberships() -> Iterator[pa.Table]:
        for file in membership_files:
            yield read_csv_as_text(file, loaded_at)

    return events, event_deliveries, account_memberships
