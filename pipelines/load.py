"""Land the file drop (CONTRACT 1a) into `raw_product`, `raw_stripe` and `raw_crm` with dlt.

Python: `load_drop(source_dir, warehouse_path, destination="duckdb", progress=True) -> dict`.
CLI:    `python -m pipelines.load --source-dir DIR --warehouse FILE [--destination postgres]`.
The `lake` destination (Parquet files for Spark) is driven by `pipelines.lake`, which calls this.

Idempotent and incremental: a file is landed once per (path, size, SHA-256). The bookkeeping table
`_landed_files` of each raw dataset records landed files and is written only after that source's data
load succeeded, so a crash never marks a file as landed. Every resource merges on its key, so landing a
file twice (after a crash, or because it changed) never duplicates rows.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.destination import Destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from pipelines.sources._files import DropFile, discover, split_new
from pipelines.sources.crm import CRM_COLUMNS, CRM_TABLES, crm_source
from pipelines.sources.csv_arrow import LANDING_COLUMNS
from pipelines.sources.product import MEMBERSHIP_COLUMNS, MEMBERSHIP_KEY, EventParse, product_source
from pipelines.sources.quarantine import QUARANTINE_COLUMNS, QUARANTINE_TABLE
from pipelines.sources.stripe import ensure_raw_tables, stripe_source

log = logging.getLogger(__name__)

BOOKKEEPING_TABLE = "_landed_files"
_ADD_DLT_ID = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"
LOAD_MEMORY_LIMIT = "2GB"
EVENT_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.parquet")


def _settings() -> None:
    """Telemetry off, and the settings of .dlt/config.toml also when run from another folder."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID", "true")
    os.environ.setdefault("LOAD__TRUNCATE_STAGING_DATASET", "true")
    # a loaded package's Parquet files are as big as the landed events: do not keep them
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    # the load package's Parquet files are written once and read once, on the same machine:
    # uncompressed costs less CPU on both sides than snappy (about 1.5x the bytes, deleted after)
    os.environ.setdefault("DATA_WRITER__COMPRESSION", "none")


def _destination(destination: str | Destination, warehouse_path: Path) -> Destination:
    """A dlt destination: DuckDB on `warehouse_path`, PostgreSQL from the PG* variables, or the
    folder `warehouse_path` as a lake of Parquet files (dlt's filesystem destination)."""
    if not isinstance(destination, str):
        return destination
    if destination == "lake":
        warehouse_path.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.filesystem(bucket_url=warehouse_path.as_uri())
    if destination == "duckdb":
        warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB's buffer pool would otherwise keep every landed block cached (80 % of RAM): with a
        # limit it writes them out, so the load's memory stays flat as the drop grows. Raw tables
        # have no row order (the parse streams batches unordered too): inserts need not keep one.
        credentials = DuckDbCredentials(
            str(warehouse_path),
            global_config={
                "memory_limit": os.environ.get("ACCOUNT_HEALTH_LOAD_MEMORY_LIMIT", LOAD_MEMORY_LIMIT),
                "preserve_insertion_order": False,
            },
        )
        return dlt.destinations.duckdb(credentials)
    if destination == "postgres":
        env = os.environ
        credentials = {
            "host": env.get("PGHOST", "127.0.0.1"),
            "port": int(env.get("PGPORT", "5432")),
            "username": env.get("PGUSER", "postgres"),
            "password": env.get("PGPASSWORD", ""),
            "database": env.get("PGDATABASE", "account_health"),
        }
        return dlt.destinations.postgres(credentials=credentials)
    raise ValueError(f"unknown destination {destination!r} (expected 'duckdb', 'postgres' or 'lake')")


def _is_lake(pipeline: dlt.Pipeline) -> bool:
    return pipeline.destination.destination_name == "filesystem"


def _run(pipeline: dlt.Pipeline, data: Any, **kwargs: Any) -> None:
    """`pipeline.run`; a lake gets Parquet files (the filesystem destination's default is JSONL)."""
    if _is_lake(pipeline):
        kwargs["loader_file_format"] = "parquet"
    pipeline.run(data, **kwargs)


def _pipeline(source: str, dest: Destination, target_id: str, pipelines_dir: str | None) -> dlt.Pipeline:
    # One pipeline per source and target: its local working state never mixes two warehouses.
    name = f"account_health_{source}_{hashlib.sha1(target_id.encode()).hexdigest()[:10]}"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=dest,
        dataset_name=f"raw_{source}",
        pipelines_dir=pipelines_dir,
        progress=None,
    )
    # STACK_NOTES trap: a package left pending by a failed run would be retried (and fail again)
    # before anything new. Our bookkeeping is written only after a successful load, so dropping
    # the package is safe: its files are not marked landed and are extracted again below.
    if pipeline.has_pending_data:
        log.warning("%s: dropping load package(s) left pending by a failed run", name)
        pipeline.abort_packages()
    return pipeline


def _query(pipeline: dlt.Pipeline, sql_template: str, table: str) -> list[tuple]:
    """Rows of a query on a raw table; [] when the dataset or table does not exist yet."""
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return []
            qualified = client.make_qualified_table_name(table)
            with client.execute_query(sql_template.format(table=qualified)) as cursor:
                return list(cursor.fetchall())
    except Exception as error:  # the table does not exist before the first load
        log.debug("%s: %s not readable yet (%s)", pipeline.pipeline_name, table, error)
        return []


def _stored_message_ids(pipeline: dlt.Pipeline, landing: set[str]) -> pa.Table:
    """Message ids stored in `events` from files other than those being landed now, as one Arrow
    column (destinations other than DuckDB; on DuckDB the warehouse is attached instead)."""
    empty = pa.table({"message_id": pa.array([], pa.string())})
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return empty
            table = client.make_qualified_table_name("events")
            excluded = sorted(landing)
            sql = f"select message_id from {table}"
            if excluded:
                sql += " where _source_file not in (" + ", ".join(["%s"] * len(excluded)) + ")"
            with client.execute_query(sql, *excluded) as cursor:
                ids = cursor.arrow()
    except Exception as error:  # the table does not exist before the first load
        log.debug("%s: events not readable yet (%s)", pipeline.pipeline_name, error)
        return empty
    if ids is None or ids.num_rows == 0:
        return empty
    return pa.table({"message_id": ids.column(0).cast(pa.string())})


def _files_with_rows(pipeline: dlt.Pipeline, landing: set[str]) -> set[str]:
    """Which of the files being landed already have rows in `events` or `event_deliveries` (a
    changed file, or a run that failed after loading them): those rows must be replaced."""
    found: set[str] = set()
    for table in ("events", "event_deliveries"):
        found |= {row[0] for row in _query(pipeline, "select distinct _source_file from {table}", table)}
    return found & landing


def _remove_stale_rows(
    pipeline: dlt.Pipeline,
    relative_paths: list[str],
    loaded_at: datetime,
    tables: tuple[str, ...] = ("events", "event_deliveries"),
) -> None:
    """Delete the rows of `tables` from the files just landed again that this load did not write.

    dlt's merge on `_source_file` replaces a file's rows only in a table where the new load has rows
    of that file: a file landed again empty, or whose messages are now all stored from other files,
    or landed again clean (nothing quarantined), would keep its old rows. Runs after the data load
    and before the bookkeeping, so a crash in between lands the file again on the next run."""
    if not relative_paths or _is_lake(pipeline):  # a lake is landed afresh: nothing stale in it
        return
    marks = ", ".join(["%s"] * len(relative_paths))
    with pipeline.sql_client() as client:
        for table in tables:
            if not _has_column(pipeline, table, "_source_file"):
                continue
            qualified = client.make_qualified_table_name(table)
            client.execute_sql(
                f"delete from {qualified} where _loaded_at < %s and _source_file in ({marks})",
                loaded_at,
                *relative_paths,
            )


def _analyze(pipeline: dlt.Pipeline) -> None:
    """Give PostgreSQL statistics on the rows just copied in, which autovacuum samples only up to a
    minute later, so the first dbt build knows the raw tables' sizes. The tables dbt writes get
    theirs from a post-hook, which with nested loops off is what cut a first build of the demo
    company from 141 s to 34 s (macros/cross_db/postgres_planner.sql); this alone changed little."""
    if pipeline.destination.destination_name != "postgres":
        return
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type = 'BASE TABLE'",
            client.dataset_name,
        )
        for (table,) in rows or []:
            client.execute_sql(f"analyze {client.make_qualified_table_name(table)}")


def _other_deliverers(pipeline: dlt.Pipeline, landing: set[str]) -> pa.Table:
    """(source_file, message_id) of the deliveries, in files not being landed, of messages whose
    stored copy is in a file being landed.

    Landing a file again replaces its rows in `events`: a message it no longer delivers would lose
    its only stored copy while the other files that delivered it keep just their duplicate
    deliveries. Those files are landed again with it (`EventParse.undelivered`), so the message is
    stored from one of them, as a fresh landing of the drop would."""
    empty = pa.table({"source_file": pa.array([], pa.string()), "message_id": pa.array([], pa.string())})
    if not landing or not _has_column(pipeline, "event_deliveries", "message_id"):
        return empty
    try:
        with pipeline.sql_client() as client:
            events = client.make_qualified_table_name("events")
            deliveries = client.make_qualified_table_name("event_deliveries")
            marks = ", ".join(["%s"] * len(landing))
            # new files have no stored copies: the usual run stops at this one-column scan
            sql = f"select distinct _source_file from {events} where _source_file in ({marks})"
            with client.execute_query(sql, *sorted(landing)) as cursor:
                present = sorted(row[0] for row in cursor.fetchall())
            if not present:
                return empty
            sql = (
                f"select distinct d._source_file, d.message_id from {deliveries} as d "
                f"inner join {events} as e on e.message_id = d.message_id "
                f"where e._source_file in ({', '.join(['%s'] * len(present))}) "
                f"and d._source_file not in ({marks})"
            )
            with client.execute_query(sql, *present, *sorted(landing)) as cursor:
                rows = cursor.fetchall()
    except Exception as error:  # no events table yet
        log.debug("%s: events not readable yet (%s)", pipeline.pipeline_name, error)
        return empty
    return pa.table(
        {
            "source_file": pa.array([row[0] for row in rows], pa.string()),
            "message_id": pa.array([row[1] for row in rows], pa.string()),
        }
    )


def _stored_later(
    pipeline: dlt.Pipeline, table: str, key: list[str], landing: list[str]
) -> dict[tuple[str, ...], str]:
    """Keys of `table` stored from files not being landed now whose path sorts after the first file
    being landed: key -> that file (a later file's version of a key wins, `crm.latest_versions`)."""
    if not landing or not _has_column(pipeline, table, "_source_file"):
        return {}
    marks = ", ".join(["%s"] * len(landing))
    columns = ", ".join(key)
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        sql = (
            f"select {columns}, _source_file from {qualified} "
            f"where _source_file > %s and _source_file not in ({marks})"
        )
        with client.execute_query(sql, min(landing), *landing) as cursor:
            return {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}


def _ensure_tables(
    pipeline: dlt.Pipeline, expected: dict[str, list[str]], empty_source: Callable[[], Any]
) -> None:
    """Run `empty_source` (the source with no files: every resource yields an empty table) when a
    table or column of `expected` is missing, so a warehouse landed before a table or column was
    declared gets it even on a run with nothing new to land (staging reads them)."""
    try:
        with pipeline.sql_client() as client:
            existing: dict[str, set[str]] = {}
            if client.has_dataset():
                with client.execute_query(
                    "select table_name, column_name from information_schema.columns where table_schema = %s",
                    client.dataset_name,
                ) as cursor:
                    for table, column in cursor.fetchall():
                        existing.setdefault(str(table).lower(), set()).add(str(column).lower())
    except Exception as error:  # no warehouse yet: the source creates it
        log.debug("%s: catalog not readable (%s)", pipeline.pipeline_name, error)
        existing = {}
    missing = [
        f"{table}.{column}"
        for table, columns in expected.items()
        for column in columns
        if column not in existing.get(table, set())
    ]
    if missing:
        log.info("%s: creating missing %s", pipeline.dataset_name, ", ".join(missing))
        _run(pipeline, empty_source())


def _has_column(pipeline: dlt.Pipeline, table: str, column: str) -> bool:
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return False
            qualified = client.make_qualified_table_name(table)
            with client.execute_query(f"select {column} from {qualified} where 1 = 0"):
                return True
    except Exception:  # no such table or column
        return False


def _prepare_events(
    pipeline: dlt.Pipeline, dest: Destination, warehouse_path: Path, parse: EventParse
) -> bool:
    """Run the parse's stored-message check against the warehouse; True when some files being
    landed already have rows there (the event tables then merge instead of appending).

    On DuckDB the warehouse file is attached read-only to the parse's own DuckDB, so stored ids
    are matched inside DuckDB and never read into Python."""
    landing = {f.relative_path for f in parse.files}
    if not landing:
        return False
    if dest.destination_name != "duckdb":
        present = _files_with_rows(pipeline, landing)
        parse.with_dlt_id = _has_column(pipeline, "events", "_dlt_id")
        parse.exclude_stored(stored_ids=_stored_message_ids(pipeline, landing))
        return bool(present)
    if not warehouse_path.exists():
        parse.exclude_stored()
        return False
    con = parse.con
    con.execute(f"attach '{warehouse_path}' as landed_warehouse (read_only)")
    try:
        dataset = pipeline.dataset_name
        columns = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = 'landed_warehouse' and table_schema = ?",
            [dataset],
        ).fetchall()
        tables = {table for table, _ in columns}
        parse.with_dlt_id = ("events", "_dlt_id") in columns
        con.register("landing_list", pa.table({"source_file": sorted(landing)}))
        present: set[str] = set()
        for table in ("events", "event_deliveries"):
            if table in tables:
                present |= {
                    row[0]
                    for row in con.execute(
                        f'select distinct _source_file from landed_warehouse."{dataset}"."{table}" '
                        "where _source_file in (select source_file from landing_list)"
                    ).fetchall()
                }
        stored_sql = None
        if "events" in tables:
            stored_sql = (
                f'select message_id from landed_warehouse."{dataset}".events '
                "where _source_file not in (select source_file from landing_list)"
            )
        parse.exclude_stored(stored_sql=stored_sql)
    finally:
        con.execute("detach landed_warehouse")
        con.unregister("landing_list")
    return bool(present)


def _landed(pipeline: dlt.Pipeline) -> dict[str, tuple[int, str]]:
    rows = _query(pipeline, "select source_file, size_bytes, sha256 from {table}", BOOKKEEPING_TABLE)
    return {path: (int(size), sha) for path, size, sha in rows}


def _record_landed(pipeline: dlt.Pipeline, files: list[DropFile], loaded_at: datetime) -> None:
    if not files:
        return

    # merge on the path: a changed file's new fingerprint replaces the old one.
    @dlt.resource(name=BOOKKEEPING_TABLE, primary_key="source_file", write_disposition="merge")
    def landed_files() -> Iterator[dict[str, Any]]:
        for file in files:
            yield {
                "source_file": file.relative_path,
                "size_bytes": file.size,
                "sha256": file.sha256,
                "_source_file": file.relative_path,
                "_loaded_at": loaded_at,
            }

    _run(pipeline, landed_files(), schema=pipeline.default_schema)


def _row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace else None
    if info is None:
        return {}
    return {
        f"{pipeline.dataset_name}.{table}": count
        for table, count in info.row_counts.items()
        if not table.startswith("_dlt")
    }


def load_drop(
    source_dir: str | Path | None = None,
    warehouse_path: str | Path | None = None,
    destination: str | Destination = "duckdb",
    progress: bool = True,
    pipelines_dir: str | None = None,
) -> dict[str, Any]:
    """Land every new or changed file of the drop; return what was landed.

    Returns `{"rows": {"raw_x.table": rows landed this run}, "files_loaded": [...],
    "files_skipped": [...]}` (files as paths relative to the drop). `destination` is "duckdb"
    (the file `warehouse_path`), "postgres" (PG* environment variables), "lake" (Parquet files
    under the folder `warehouse_path`, see `pipelines.lake`) or a dlt destination.
    """
    _settings()
    source_dir = Path(source_dir or os.environ.get("ACCOUNT_HEALTH_SOURCE_DIR") or "data/landing")
    warehouse_path = Path(
        warehouse_path or os.environ.get("ACCOUNT_HEALTH_WAREHOUSE") or "warehouse/health.duckdb"
    )
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source directory {source_dir} does not exist")
    dest = _destination(destination, warehouse_path.resolve())
    target_id = f"{dest.destination_name}:{warehouse_path.resolve()}"
    loaded_at = datetime.now(UTC)
    level = logging.INFO if progress else logging.DEBUG
    result: dict[str, Any] = {"rows": {}, "files_loaded": [], "files_skipped": []}

    landed_files: dict[str, dict[str, tuple[int, str]]] = {}

    def plan(pipeline: dlt.Pipeline, files: list[DropFile]) -> list[DropFile]:
        # the bookkeeping is read once per source (each read opens the warehouse)
        if pipeline.pipeline_name not in landed_files:
            landed_files[pipeline.pipeline_name] = _landed(pipeline)
        to_land, to_skip = split_new(files, landed_files[pipeline.pipeline_name])
        result["files_loaded"] += [f.relative_path for f in to_land]
        result["files_skipped"] += [f.relative_path for f in to_skip]
        for file in to_skip:
            log.log(level, "skip %s (already landed, unchanged)", file.relative_path)
        return to_land

    def run(
        pipeline: dlt.Pipeline, source: Any, files: list[DropFile], relanded: list[str] | None = None
    ) -> None:
        if not files:
            log.log(level, "%s: nothing new to land", pipeline.dataset_name)
            return
        log.log(level, "%s: landing %d file(s)", pipeline.dataset_name, len(files))
        _run(pipeline, source)
        _remove_stale_rows(pipeline, relanded or [], loaded_at)
        # a file landed again replaces its quarantined records, also by none
        _remove_stale_rows(pipeline, [f.relative_path for f in files], loaded_at, (QUARANTINE_TABLE,))
        counts = _row_counts(pipeline)
        for table, count in counts.items():
            log.log(level, "%s: %d rows", table, count)
        result["rows"].update(counts)
        _record_landed(pipeline, files, loaded_at)

    # product: events (jsonl / jsonl.gz / parquet) and memberships. The event tables get no
    # `_dlt_id` (ADD_DLT_ID off while the source runs), so dlt's normalize step imports their
    # Parquet files as they are instead of rewriting them to add one. A source with no file in the
    # drop is not opened at all (nothing to land or skip).
    event_files = discover(source_dir, "product/events", EVENT_PATTERNS)
    membership_files = discover(source_dir, "product", ["account_memberships*.csv"])
    pipeline = (
        _pipeline("product", dest, target_id, pipelines_dir) if event_files or membership_files else None
    )
    stored_memberships: dict[tuple[str, ...], str] = {}
    if pipeline is not None:
        all_event_files = event_files
        event_files, membership_files = plan(pipeline, event_files), plan(pipeline, membership_files)
        stored_memberships = _stored_later(
            pipeline, "account_memberships", list(MEMBERSHIP_KEY), [f.relative_path for f in membership_files]
        )
    with EventParse(event_files, loaded_at, scratch_dir=pipelines_dir) as parse:
        if pipeline is not None and event_files:
            others = parse.undelivered(_other_deliverers(pipeline, {f.relative_path for f in event_files}))
            again = [f for f in all_event_files if f.relative_path in others]
            if again:
                log.log(
                    level,
                    "product: landing again %s (they deliver messages stored from files landed now)",
                    ", ".join(f.relative_path for f in again),
                )
                result["files_loaded"] += [f.relative_path for f in again]
                result["files_skipped"] = [p for p in result["files_skipped"] if p not in others]
                parse.add_files(again)
                event_files = parse.files
        replace = pipeline is not None and _prepare_events(pipeline, dest, warehouse_path.resolve(), parse)
        saved = os.environ.get(_ADD_DLT_ID)
        os.environ[_ADD_DLT_ID] = "false"
        try:
            if pipeline is not None:
                run(
                    pipeline,
                    product_source(
                        parse if event_files else None,
                        membership_files,
                        loaded_at,
                        replace,
                        stored_memberships,
                    ),
                    event_files + membership_files,
                    relanded=[f.relative_path for f in event_files] if replace else None,
                )
                _ensure_tables(
                    pipeline,
                    {
                        "account_memberships": [*MEMBERSHIP_COLUMNS, *LANDING_COLUMNS],
                        QUARANTINE_TABLE: list(QUARANTINE_COLUMNS),
                    },
                    lambda: product_source(None, [], loaded_at),
                )
                _analyze(pipeline)
        finally:
            if saved is None:
                os.environ.pop(_ADD_DLT_ID, None)
            else:
                os.environ[_ADD_DLT_ID] = saved

    # stripe: every run completes the raw tables (ensure_raw_tables), so staging reads one shape
    # even when `billing/` is absent or empty.
    by_name = {
        name: discover(source_dir, "billing", [f"{name}*.jsonl", f"{name}*.jsonl.gz"])
        for name in ("customers", "subscriptions", "invoices", "prices")
    }
    pipeline = _pipeline("stripe", dest, target_id, pipelines_dir)
    if any(by_name.values()):
        by_name = {name: plan(pipeline, files) for name, files in by_name.items()}
        run(
            pipeline,
            stripe_source(
                by_name["customers"],
                by_name["subscriptions"],
                by_name["invoices"],
                loaded_at,
                by_name["prices"],
            ),
            [f for files in by_name.values() for f in files],
        )
    if not _is_lake(pipeline):  # no DDL on files: pipelines.lake declares the missing tables
        ensure_raw_tables(pipeline)
        _analyze(pipeline)

    # crm
    crm_files = {table: discover(source_dir, "crm", [f"{table}*.csv"]) for table in CRM_TABLES}
    if any(crm_files.values()):
        pipeline = _pipeline("crm", dest, target_id, pipelines_dir)
        crm_files = {table: plan(pipeline, files) for table, files in crm_files.items()}
        stored = {
            table: _stored_later(pipeline, table, [key], [f.relative_path for f in crm_files[table]])
            for table, key in CRM_TABLES.items()
        }
        run(
            pipeline,
            crm_source(crm_files, loaded_at, stored),
            [f for files in crm_files.values() for f in files],
        )
        expected = {table: [*columns, *LANDING_COLUMNS] for table, columns in CRM_COLUMNS.items()}
        _ensure_tables(
            pipeline,
            {**expected, QUARANTINE_TABLE: list(QUARANTINE_COLUMNS)},
            lambda: crm_source({}, loaded_at),
        )
        _analyze(pipeline)

    log.info(
        "landed %d file(s), skipped %d unchanged; rows: %s",
        len(result["files_loaded"]),
        len(result["files_skipped"]),
        result["rows"],
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Land the file drop into the raw schemas (dlt).")
    parser.add_argument("--source-dir", default=os.environ.get("ACCOUNT_HEALTH_SOURCE_DIR", "data/landing"))
    parser.add_argument(
        "--warehouse", default=os.environ.get("ACCOUNT_HEALTH_WAREHOUSE", "warehouse/health.duckdb")
    )
    parser.add_argument("--destination", default="duckdb", choices=["duckdb", "postgres"])
    parser.add_argument("--quiet", action="store_true", help="log only the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_drop(args.source_dir, args.warehouse, destination=args.destination, progress=not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
