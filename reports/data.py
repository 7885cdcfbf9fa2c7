"""The reporting app's one door to the warehouse.

This is the only module of the app that imports ``duckdb``. It reads the *published* warehouse
(``ACCOUNT_HEALTH_WAREHOUSE``, default ``warehouse/health.duckdb``) and nothing else, under these
rules:

* One read-only view of the published file per file stamp (path, inode, mtime, size), reused by
  every call: an in-memory DuckDB that ``ATTACH``es the file ``READ_ONLY``, the published tables
  listed once when it opens. Each call runs on its own cursor of that connection (DuckDB cursors
  are safe to use from Streamlit's threads, one per thread). A publish replaces the file with
  ``os.replace``: the next call sees a new stamp, opens a new view of the new file and closes the
  old one once no call uses it. ``ATTACH`` in a fresh in-memory database is used rather than
  ``duckdb.connect(path)`` because the latter returns the process's cached *old* database for the
  same path while any connection to it is still open (``../shared/STACK_NOTES.md``, "DuckDB
  locking").
* While the app runs it holds a shared (read) lock on the published file. The CLI never writes that
  file (it builds a candidate and publishes it with ``os.replace``), so runs and publishes are not
  blocked; a tool that opens the published file read-write itself must run while the app is
  stopped. ``close_connections()`` drops the view (the sidebar's "Reload data" does).
* Results are also cached (``st.cache_data``), keyed by the file stamp: a publish changes the key,
  so the app shows the new data at once.
* Every value that comes from a user goes through a ``?`` placeholder. SQL text is built only from
  constants of this module (table and column names never come from input).
* Only the ``marts`` schema is read, plus ``quality`` for the data-health page.
* Nothing here computes a score or an amount of money: the marts did. The SQL below selects,
  filters, orders and, for charts, sums mart columns within a group.

Failures are turned into two exceptions the pages show as messages, never as tracebacks:
``WarehouseUnavailable`` (no file, unreadable file, locked file) and ``MartMissing`` (the file is
there but a table the page needs is not).
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd
import streamlit as st

REPO_ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE_ENV = "ACCOUNT_HEALTH_WAREHOUSE"
DEFAULT_WAREHOUSE = Path("warehouse") / "health.duckdb"

MARTS = "marts"
QUALITY = "quality"
READABLE_SCHEMAS = (MARTS, QUALITY)
# The name the published file is attached under in the app's in-memory DuckDB.
CATALOG = "published"

# DuckDB threads of the app's view. The app's queries read one account or one small mart: one
# thread has no coordination to pay, and leaves the other cores to concurrent sessions.
THREADS = int(os.environ.get("ACCOUNT_HEALTH_APP_THREADS") or 1)

# How long a cached result may be reused even when the file did not change (seconds).
CACHE_TTL_SECONDS = 600


class WarehouseUnavailable(RuntimeError):
    """The published warehouse file is missing, empty or cannot be opened read-only."""


class MartMissing(RuntimeError):
    """The warehouse is there but a table a page needs is not (yet) published."""

    def __init__(self, tables: Sequence[str]):
        self.tables = tuple(tables)
        super().__init__("not in the published warehouse: " + ", ".join(self.tables))


# --------------------------------------------------------------------------------------------------
# Locating the warehouse and keying the cache
# --------------------------------------------------------------------------------------------------


def warehouse_path() -> Path:
    """The published warehouse file, from ``ACCOUNT_HEALTH_WAREHOUSE`` (relative to the repo root)."""
    configured = Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)
    return configured if configured.is_absolute() else REPO_ROOT / configured


class FileStamp(NamedTuple):
    """The identity of the warehouse file: changes whenever a publish replaces it."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def file_stamp() -> FileStamp:
    """Stamp of the current warehouse file, or ``WarehouseUnavailable`` when there is none."""
    path = warehouse_path()
    try:
        stat = path.stat()
    except FileNotFoundError as error:
        raise WarehouseUnavailable(
            f"No published warehouse at {path}. Run `make run` (or `account-health run`) to build and "
            f"publish one, or point {WAREHOUSE_ENV} at an existing file."
        ) from error
    if not path.is_file() or stat.st_size == 0:
        raise WarehouseUnavailable(f"The warehouse file {path} is empty or not a file. Run `make run`.")
    return FileStamp(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


# --------------------------------------------------------------------------------------------------
# One read-only view per file stamp
# --------------------------------------------------------------------------------------------------


def _sql_string(value: str) -> str:
    """A SQL string literal (``ATTACH`` takes no parameters; the path comes from configuration)."""
    return "'" + value.replace("'", "''") + "'"


def _attach(stamp: FileStamp) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the file attached read-only; retried briefly while a writer holds it."""
    last_error: Exception | None = None
    for attempt in range(4):
        connection = duckdb.connect(":memory:", config={"threads": THREADS})
        try:
            connection.execute(f"attach {_sql_string(stamp.path)} as {CATALOG} (read_only)")
            connection.execute(f"use {CATALOG}")
            return connection
        except duckdb.IOException as error:  # lock held by a writer, or not a DuckDB file
            connection.close()
            last_error = error
            time.sleep(0.1 * (attempt + 1))
        except duckdb.Error as error:
            connection.close()
            last_error = error
            break
    raise WarehouseUnavailable(f"Cannot open {stamp.path} read-only: {last_error}")


def _existing_tables(connection: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """``schema.table`` names (tables and views) of the readable schemas in the attached file."""
    rows = connection.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = ? and table_schema in (?, ?)",
        [CATALOG, *READABLE_SCHEMAS],
    ).fetchall()
    return frozenset(row[0] for row in rows)


class _View:
    """The attached file of one stamp, its published tables, and how many calls are using it."""

    def __init__(self, stamp: FileStamp):
        self.stamp = stamp
        self.connection = _attach(stamp)
        try:
            self.tables = _existing_tables(self.connection)
        except duckdb.Error as error:
            self.connection.close()
            raise WarehouseUnavailable(f"Cannot read {stamp.path}: {error}") from error
        self.users = 0
        self.retired = False
        # Per-account rows of the account page's small marts (`_AccountRows`), loaded by the first
        # call that needs them, by `Query.all_accounts_sql`.
        self.account_rows: dict[str, _AccountRows] = {}
        self.account_rows_lock = threading.Lock()

    def rows_of_every_account(self, cursor: duckdb.DuckDBPyConnection, query: Query) -> _AccountRows:
        """The `_AccountRows` of ``query`` on this file (read once, then shared by every call)."""
        with self.account_rows_lock:
            rows = self.account_rows.get(query.all_accounts_sql)
            if rows is None:
                rows = _AccountRows(cursor.execute(query.all_accounts_sql).fetchnumpy())
                self.account_rows[query.all_accounts_sql] = rows
            return rows

    def close_if_unused(self) -> None:
        if self.retired and self.users == 0:
            self.connection.close()


_VIEW_LOCK = threading.Lock()
_current_view: _View | None = None


def _retire_current() -> None:
    """Forgets the current view (closed now, or by the last call still using it). Holds the lock."""
    global _current_view
    if _current_view is not None:
        _current_view.retired = True
        _current_view.close_if_unused()
        _current_view = None


def close_connections() -> None:
    """Closes the app's view of the warehouse (the next call opens a new one)."""
    with _VIEW_LOCK:
        _retire_current()


@contextmanager
def _reading(stamp: FileStamp) -> Iterator[tuple[duckdb.DuckDBPyConnection, frozenset[str]]]:
    """A cursor on the view of ``stamp`` (opened when the file changed) and its published tables."""
    with _reading_view(stamp) as (cursor, view):
        yield cursor, view.tables


@contextmanager
def _reading_view(stamp: FileStamp) -> Iterator[tuple[duckdb.DuckDBPyConnection, _View]]:
    """A cursor on the view of ``stamp`` (opened when the file changed) and the view."""
    global _current_view
    with _VIEW_LOCK:
        if _current_view is None or _current_view.stamp != stamp:
            # Stat again: a call may carry a stamp that a publish has just outdated, and the view
            # must never flip back to the old stamp (its results are keyed by a dead stamp anyway).
            fresh = file_stamp()
            if _current_view is None or _current_view.stamp != fresh:
                _retire_current()
                _current_view = _View(fresh)
        view = _current_view
        view.users += 1
        try:
            cursor = view.connection.cursor()
        except BaseException:
            view.users -= 1
            raise
    try:
        cursor.execute(f"use {CATALOG}")  # a cursor starts in the in-memory catalog
        yield cursor, view
    finally:
        with _VIEW_LOCK:
            cursor.close()
            view.users -= 1
            view.close_if_unused()


# A query's result: a frame, the columns of a ``numpy`` query, or None (its mart is missing).
_Result = pd.DataFrame | dict[str, np.ndarray] | None


class Query(NamedTuple):
    """A constant SQL text, its ``?`` parameters, and the tables it reads (checked before running)."""

    sql: str
    params: tuple[Any, ...] = ()
    tables: tuple[str, ...] = ()
    # Build the frame from ``fetchnumpy()`` (``_numpy_frame``) instead of ``.df()``: only for
    # queries whose column types ``_numpy_frame`` converts exactly as ``.df()`` does (the account
    # page's: text, integers, decimals/doubles, booleans, dates and naive timestamps).
    numpy: bool = False
    # numpy queries only: the rows' order, applied to the fetched columns instead of an ``ORDER BY``
    # in ``sql`` (``_ordered``): ``(column, descending)`` pairs, NULLs last either way as DuckDB's
    # default; then at most ``limit`` rows. ``hidden`` columns are selected only to order by and
    # are dropped after. ``ordered_sql()`` is the same query ordered by DuckDB.
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    hidden: tuple[str, ...] = ()
    # numpy queries of one account (``where account_id = ?``, the id the only parameter): the same
    # query for every account, its first column ``ACCOUNT_KEY``. When set, the rows come from the
    # view's `_AccountRows` of this query (read once per file) instead of running ``sql``.
    all_accounts_sql: str = ""

    def ordered_sql(self) -> str:
        """``sql`` with the ``ORDER BY`` and ``LIMIT`` that ``order`` and ``limit`` stand for."""
        sql = self.sql
        if self.order:
            keys = ", ".join(
                f"{column}{' desc' if descending else ''} nulls last" for column, descending in self.order
            )
            sql = f"select * exclude ({', '.join(self.hidden)}) from ({sql})" if self.hidden else sql
            sql = f"{sql}\norder by {keys}"
        return f"{sql}\nlimit {int(self.limit)}" if self.limit is not None else sql


def _run_batch(stamp: FileStamp, queries: dict[str, Query], optional: bool) -> dict[str, _Result]:
    """Runs several queries on one cursor of the current view.

    With ``optional`` a query whose tables are missing yields ``None``; otherwise ``MartMissing``.
    """
    for query in queries.values():
        for table in query.tables:
            if table.split(".", 1)[0] not in READABLE_SCHEMAS:
                raise ValueError(f"the app reads only {READABLE_SCHEMAS}, not {table}")
    with _reading_view(stamp) as (cursor, view):
        results: dict[str, _Result] = {}
        for name, query in queries.items():
            missing = [table for table in query.tables if table not in view.tables]
            if missing and not optional:
                raise MartMissing(missing)
            results[name] = None if missing else _execute(cursor, query, optional, view)
        return results


def _execute(
    connection: duckdb.DuckDBPyConnection, query: Query, optional: bool, view: _View | None = None
) -> _Result:
    """One query; a mart published without a column the query names is "missing", not a crash.

    With a ``view``, a query with ``all_accounts_sql`` takes its account's rows from the view's
    `_AccountRows` (without one it runs ``sql``, as every other query does)."""
    try:
        if view is not None and query.all_accounts_sql:
            rows = view.rows_of_every_account(connection, query).of(str(query.params[0]))
            return _ordered(rows, query)
        result = connection.execute(query.sql, list(query.params))
        # numpy queries return their columns; `_split` builds the frames (each split from the arrays)
        return _ordered(result.fetchnumpy(), query) if query.numpy else result.df()
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        if optional:
            return None
        raise MartMissing([str(error).splitlines()[0]]) from error


# The account column of ``Query.all_accounts_sql`` (first in its select list).
ACCOUNT_KEY = "_account_key"


class _AccountRows:
    """Every account's rows of one per-account query, grouped by account, from one fetch.

    At ``large`` the account page's small marts (``dim_accounts`` and seven facts, 10,700-218,000
    rows each, not stored by account) cost 1-4 ms each per call to scan for one account: DuckDB's
    zone maps cannot skip a row group when every row group holds every account. Read once per file
    (about 0.5 s CPU at ``large``), one account's rows are a slice. Text is interned (one object per
    distinct value). ``of()`` returns what ``fetchnumpy()`` of the one-account query returns: the
    rows in the table's order, a column masked only when those rows have a NULL in it."""

    def __init__(self, columns: dict[str, np.ndarray]):
        keys = columns.pop(ACCOUNT_KEY)
        key_values = np.asarray(np.ma.getdata(keys), dtype=object)
        codes, accounts = pd.factorize(key_values, use_na_sentinel=True)
        if isinstance(keys, np.ma.MaskedArray):
            codes[np.ma.getmaskarray(keys)] = -1  # `account_id = ?` never matches a NULL id
        order = np.argsort(codes, kind="stable")  # an account's rows stay in the table's order
        order = order[codes[order] >= 0]
        sorted_codes = codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        starts = np.concatenate(([0], bounds)).tolist() if len(order) else []
        ends = np.concatenate((bounds, [len(order)])).tolist() if len(order) else []
        self.ranges: dict[str, tuple[int, int]] = {
            str(accounts[sorted_codes[start]]): (start, end) for start, end in zip(starts, ends, strict=True)
        }
        self.data: dict[str, np.ndarray] = {}
        self.masks: dict[str, np.ndarray | None] = {}
        for name, values in columns.items():
            data = np.ma.getdata(values)[order]
            mask = np.ma.getmaskarray(values)[order] if isinstance(values, np.ma.MaskedArray) else None
            if data.dtype.kind == "O":
                data = _interned(data)
            self.data[name], self.masks[name] = data, mask if mask is not None and mask.any() else None

    def of(self, account_id: str) -> dict[str, np.ndarray]:
        """``fetchnumpy()`` of the one-account query: copies, masked where the rows have NULLs."""
        start, end = self.ranges.get(account_id, (0, 0))
        out: dict[str, np.ndarray] = {}
        for name, data in self.data.items():
            mask = self.masks[name]
            rows = data[start:end].copy()
            if mask is not None and mask[start:end].any():
                rows = np.ma.MaskedArray(rows, mask[start:end].copy())
            out[name] = rows
        return out


def _interned(values: np.ndarray) -> np.ndarray:
    """An object array with one object per distinct value (the fetch makes one per row); as it is
    when most values are distinct (ids), where interning saves nothing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0 or len(uniques) > len(values) // 2:
        return values
    out = np.asarray(uniques, dtype=object).take(np.maximum(codes, 0))
    out[codes < 0] = values[codes < 0]
    return out


def _sort_key(values: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """(NULL flags, ranks) of one ``fetchnumpy()`` column for ``np.lexsort``: NULLs last, ranks
    negated for a descending key. Ranks rather than values, so text and booleans sort too (text by
    code point, as DuckDB's default binary collation orders UTF-8)."""
    data = np.asarray(values.data if isinstance(values, np.ma.MaskedArray) else values)
    nulls = np.ma.getmaskarray(values) if isinstance(values, np.ma.MaskedArray) else np.zeros(len(data), bool)
    if data.dtype.kind == "O":
        nulls = nulls | np.equal(data, None)
    if nulls.any():
        data = data.copy()
        data[nulls] = data[~nulls][0] if not nulls.all() else data[0]
    ranks = np.unique(data, return_inverse=True)[1].reshape(-1)
    return nulls, (-ranks if descending else ranks)


def _ordered(columns: dict[str, np.ndarray], query: Query) -> dict[str, np.ndarray]:
    """The fetched columns in ``query.order``, cut to ``query.limit``, without ``query.hidden``.

    DuckDB's ``ORDER BY`` costs about 0.6-0.9 ms per query whatever the rows (its sort's set-up);
    ordering an account's few hundred rows here costs tens of microseconds."""
    if query.order and len(next(iter(columns.values()))) > 1:
        keys: list[np.ndarray] = []
        for column, descending in reversed(query.order):  # np.lexsort: the last key is the first
            nulls, ranks = _sort_key(columns[column], descending)
            keys += [ranks, nulls]
        permutation = np.lexsort(keys)
        if query.limit is not None:
            permutation = permutation[: query.limit]
        columns = {name: values[permutation] for name, values in columns.items()}
    elif query.limit is not None:
        columns = {name: values[: query.limit] for name, values in columns.items()}
    if query.limit is not None:
        # DuckDB's fetch masks a column only when the result has a NULL in it (and `.df()` types
        # the column nullable only then): a column whose NULLs were all cut off is unmasked
        columns = {
            name: values.data if isinstance(values, np.ma.MaskedArray) and not values.mask.any() else values
            for name, values in columns.items()
        }
    for column in query.hidden:
        del columns[column]
    return columns


def _numpy_column(values: np.ndarray) -> Any:
    """One ``fetchnumpy()`` column as ``.df()`` types it (a masked array holds the NULLs)."""
    if not isinstance(values, np.ma.MaskedArray):
        return values  # text becomes pandas' `str` dtype in the frame, as with `.df()`
    mask = np.ma.getmaskarray(values)
    data = values.data
    kind = data.dtype.kind
    if kind in "iu":
        return pd.arrays.IntegerArray(data, mask)
    if kind == "f":
        return np.where(mask, np.nan, data)
    if kind == "M":
        out = data.copy()
        out[mask] = np.datetime64("NaT")
        return out
    if kind == "b":
        return pd.arrays.BooleanArray(data, mask)
    if kind == "O":
        out = data.copy()
        out[mask] = None
        return out if mask.all() else pd.array(out, dtype="str")
    raise TypeError(f"no numpy conversion for {data.dtype}")


def _numpy_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The frame ``.df()`` would return, from ``fetchnumpy()``: DuckDB's numpy fetch is ~10x
    cheaper than its pandas one, and a frame built from the arrays costs about half of ``.df()``
    (account page: 9 frames, about 4 ms less per call). ``test_app_data`` checks both agree."""
    return pd.DataFrame({name: _numpy_column(values) for name, values in columns.items()}, copy=False)


def _current_stamp() -> FileStamp:
    """``file_stamp()``; when the file is gone, the view of the old one is closed too."""
    try:
        return file_stamp()
    except WarehouseUnavailable:
        close_connections()
        raise


# A frame cut into column subsets under new names: (source frame, new name, its columns).
Split = tuple[str, str, tuple[str, ...]]


def _split(frames: dict[str, _Result], splits: tuple[Split, ...]) -> dict[str, pd.DataFrame | None]:
    """Replaces each source frame by its column subsets (``None`` stays ``None``), and turns the
    columns of ``numpy`` queries into frames.

    A numpy query's subsets are built from its arrays (no frame of every column, no copy by
    ``iloc``); a frame's by positional ``iloc`` (pandas' label lookup cost about 40 % more).
    """
    for source, name, columns in splits:
        frame = frames.get(source)
        if frame is None:
            frames[name] = None
        elif isinstance(frame, dict):
            frames[name] = _numpy_frame({column: frame[column] for column in columns})
        else:
            positions = [frame.columns.get_loc(column) for column in columns]
            frames[name] = frame.iloc[:, positions]
    for source in {split[0] for split in splits}:
        frames.pop(source, None)
    for name, frame in frames.items():
        if isinstance(frame, dict):
            frames[name] = _numpy_frame(frame)
    return frames


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=512)
def _cached_batch(
    stamp: FileStamp,
    key: str,
    _queries: tuple[tuple[str, Query], ...],
    optional: bool,
    _splits: tuple[Split, ...] = (),
) -> dict[str, pd.DataFrame | None]:
    # `key` stands for `_queries` and `_splits` in the cache key (Streamlit does not hash
    # `_`-prefixed arguments): hashing one digest is cheaper than hashing every SQL text and column
    # name on each call (about 1 ms of an uncached account page).
    # Splits happen before caching, so a cache hit does not pay for them again.
    return _split(_run_batch(stamp, dict(_queries), optional), _splits)


def _frames(
    queries: dict[str, Query], optional: bool = False, splits: tuple[Split, ...] = ()
) -> dict[str, pd.DataFrame | None]:
    """Cached results of ``queries`` (cut by ``splits``) for the warehouse file as it is now."""
    batch = tuple(queries.items())
    key = hashlib.sha256(repr((batch, splits)).encode("utf-8")).hexdigest()
    frames = _cached_batch(_current_stamp(), key, batch, optional, splits)
    _freeze_long_lived_objects()
    return frames


_gc_frozen = False


def _freeze_long_lived_objects() -> None:
    """Once per process, after the first page's data: ``gc.collect()`` then ``gc.freeze()``.

    The objects alive by then (Streamlit, pandas, DuckDB's modules and the app's own) live as long
    as the process; frozen, a full collection no longer walks them. Unfrozen, one call in about
    200 of ``account_detail`` at ``large`` paid a 75 ms full collection (the tail's slowest call).
    Objects created later are collected as before; frozen ones are still freed by refcount."""
    global _gc_frozen
    if not _gc_frozen:
        _gc_frozen = True
        gc.collect()
        gc.freeze()


def _frame(query: Query) -> pd.DataFrame:
    frame = _frames({"result": query})["result"]
    assert frame is not None
    return frame


def _placeholders(values: Sequence[Any]) -> str:
    """``?, ?, ?``: one placeholder per value, so list filters stay parameterised."""
    return ", ".join("?" for _ in values)


def _in_filter(column: str, values: Iterable[Any] | None) -> tuple[str, tuple[Any, ...]]:
    """``and <column> in (?, ...)`` for a non-empty selection; no condition for none."""
    selected = tuple(str(value) for value in values or ())
    if not selected:
        return "", ()
    return f" and {column} in ({_placeholders(selected)})", selected


def clear_cache() -> None:
    """Drops every cached result (the next calls run their queries; the open view is kept)."""
    _cached_batch.clear()


# --------------------------------------------------------------------------------------------------
# Warehouse overview
# --------------------------------------------------------------------------------------------------


def warehouse_status() -> dict[str, Any]:
    """Path, size, modification time and the published tables of the warehouse (not cached)."""
    stamp = _current_stamp()
    with _reading(stamp) as (_, existing):
        tables = sorted(existing)
    return {
        "path": stamp.path,
        "size_bytes": stamp.size,
        "modified_at": pd.Timestamp(stamp.mtime_ns, unit="ns", tz="UTC"),
        "tables": tables,
    }


# --------------------------------------------------------------------------------------------------
# Portfolio
# --------------------------------------------------------------------------------------------------

DIM_ACCOUNTS = "marts.dim_accounts"
HEALTH_DAILY = "marts.fct_account_health_daily"
MOVEMENTS = "marts.fct_quadrant_movements"
ALERTS = "marts.fct_health_alerts"
SIGNALS = "marts.fct_expansion_signals"
AT_RISK_ARR = "marts.mart_at_risk_arr"
PRIORITY_QUEUE = "marts.mart_cs_priority_queue"
MRR_MOVEMENTS = "marts.fct_mrr_movements"
REVENUE_RETENTION = "marts.mart_revenue_retention"
COHORT_RETENTION = "marts.mart_cohort_retention"
FEATURE_ADOPTION = "marts.mart_feature_adoption"
SCORE_BACKTEST = "marts.mart_score_backtest"
SCORE_BACKTEST_ACCURACY = "marts.mart_score_backtest_accuracy"
CHURN_CALIBRATION = "marts.mart_churn_calibration"
ACTIVATION = "marts.mart_activation"
FEATURE_USAGE = "marts.fct_account_feature_usage"
ADOPTION_BY_OUTCOME = "marts.mart_feature_adoption_by_outcome"
EVENT_TAXONOMY = "marts.mart_event_taxonomy"
EVENT_USAGE_BY_QUADRANT = "marts.mart_event_usage_by_quadrant"
ALERTS_MONTHLY = "marts.mart_alerts_monthly"
QUADRANT_DISTRIBUTION = "marts.mart_quadrant_distribution_monthly"
QUADRANT_CHURN = "marts.mart_quadrant_churn_quarterly"
EMBEDDED_DETERIORATING = "marts.mart_embedded_accounts_deteriorating"
CS_TOUCHES = "marts.fct_cs_touches"
NPS_RESPONSES = "marts.fct_nps_responses"
REJECTED_RECORDS = "quality.rejected_records"
RUN_LOG = "quality.run_log"
DATA_FINDINGS = "quality.data_findings"

ALL_MARTS = (
    DIM_ACCOUNTS,
    HEALTH_DAILY,
    MOVEMENTS,
    ALERTS,
    SIGNALS,
    AT_RISK_ARR,
    PRIORITY_QUEUE,
    MRR_MOVEMENTS,
    REVENUE_RETENTION,
    COHORT_RETENTION,
    FEATURE_ADOPTION,
    SCORE_BACKTEST,
    SCORE_BACKTEST_ACCURACY,
    CHURN_CALIBRATION,
    ACTIVATION,
    FEATURE_USAGE,
    ADOPTION_BY_OUTCOME,
    EVENT_TAXONOMY,
    EVENT_USAGE_BY_QUADRANT,
    ALERTS_MONTHLY,
    QUADRANT_DISTRIBUTION,
    QUADRANT_CHURN,
    EMBEDDED_DETERIORATING,
)


def _portfolio_summary_query() -> Query:
    """One row: accounts, ARR, at-risk accounts and ARR over the current accounts."""
    return Query(
        f"""
            select
                count(*) as accounts,
                coalesce(sum(arr), 0) as total_arr,
                count(*) filter (where is_at_risk) as at_risk_accounts,
                coalesce(sum(arr) filter (where is_at_risk), 0) as at_risk_arr,
                avg(health_score) as mean_health_score
            from {DIM_ACCOUNTS}
            """,
        tables=(DIM_ACCOUNTS,),
    )


def _arr_by_health_band_query() -> Query:
    """ARR and accounts per health band (the ARR-weighted histogram)."""
    return Query(
        f"""
            select
                health_band,
                count(*) as accounts,
                coalesce(sum(arr), 0) as arr,
                min(health_score) as min_health_score
            from {DIM_ACCOUNTS}
            group by health_band
            order by min_health_score
            """,
        tables=(DIM_ACCOUNTS,),
    )


def _arr_histogram_query(bin_width: int = 10) -> Query:
    """ARR per health-score bin (``bin_width`` points wide) and band: the ARR-weighted histogram."""
    bin_width = max(1, min(int(bin_width), 100))
    return Query(
        f"""
            select
                least(floor(health_score / ?) * ?, 100 - ?) as score_bin,
                health_band,
                count(*) as accounts,
                coalesce(sum(arr), 0) as arr
            from {DIM_ACCOUNTS}
            where health_score is not null
            group by score_bin, health_band
            order by score_bin, health_band
            """,
        (bin_width, bin_width, bin_width),
        tables=(DIM_ACCOUNTS,),
    )


def _accounts_for_scatter_query() -> Query:
    """One row per account: usage vs relationship score, ARR as bubble size."""
    return Query(
        f"""
            select
                account_id,
                account_name,
                segment,
                csm_owner,
                usage_score,
                relationship_score,
                health_score,
                health_band,
                quadrant,
                arr,
                is_at_risk
            from {DIM_ACCOUNTS}
            order by account_id
            """,
        tables=(DIM_ACCOUNTS,),
    )


def _at_risk_arr_query() -> Query:
    """At-risk ARR by renewal window and segment, at the latest as-of date."""
    return Query(
        f"""
            select
                as_of_date,
                renewal_window,
                segment,
                accounts,
                at_risk_accounts,
                total_arr,
                at_risk_arr
            from {AT_RISK_ARR}
            where as_of_date = (select max(as_of_date) from {AT_RISK_ARR})
            order by renewal_window, segment
            """,
        tables=(AT_RISK_ARR,),
    )


def _health_band_trend_query(weeks: int = 26) -> Query:
    """ARR and accounts per health band on the first day of each of the last ``weeks`` weeks.

    Reads the band and the ARR that ``fct_account_health_daily`` recorded for each account on that
    day (its ``arr`` and ``health_band`` columns), plus the latest day, so the last point is today.
    """
    weeks = max(1, min(int(weeks), 260))
    return Query(
        f"""
            with latest as (
                select max(date_day) as date_day from {HEALTH_DAILY}
            ),

            weekly as (
                select
                    daily.date_day,
                    daily.health_band,
                    daily.health_score,
                    daily.arr
                from {HEALTH_DAILY} as daily
                cross join latest
                where (
                    date_trunc('week', daily.date_day) = daily.date_day
                    or daily.date_day = latest.date_day
                )
                    and daily.date_day > latest.date_day - ? * interval 7 day
            )

            select
                date_day as week_start,
                health_band,
                count(*) as accounts,
                coalesce(sum(arr), 0) as arr,
                min(health_score) as min_health_score
            from weekly
            group by date_day, health_band
            order by date_day, min_health_score
            """,
        (weeks,),
        tables=(HEALTH_DAILY,),
    )


def portfolio_summary() -> pd.DataFrame:
    """One row: accounts, ARR, at-risk accounts and ARR over the current accounts."""
    return _frame(_portfolio_summary_query())


def arr_by_health_band() -> pd.DataFrame:
    """ARR and accounts per health band (the ARR-weighted histogram)."""
    return _frame(_arr_by_health_band_query())


def arr_histogram(bin_width: int = 10) -> pd.DataFrame:
    """ARR per health-score bin (``bin_width`` points wide) and band: the ARR-weighted histogram."""
    return _frame(_arr_histogram_query(bin_width))


def accounts_for_scatter() -> pd.DataFrame:
    """One row per account: usage vs relationship score, ARR as bubble size."""
    return _frame(_accounts_for_scatter_query())


def at_risk_arr() -> pd.DataFrame:
    """At-risk ARR by renewal window and segment, at the latest as-of date."""
    return _frame(_at_risk_arr_query())


def health_band_trend(weeks: int = 26) -> pd.DataFrame:
    """ARR and accounts per health band on the first day of each of the last ``weeks`` weeks."""
    return _frame(_health_band_trend_query(weeks))


def portfolio(weeks: int = 26, bin_width: int = 10) -> dict[str, pd.DataFrame | None]:
    """Every frame of the portfolio page from one read-only connection (opening one costs ~0.2 s).

    Keys: ``summary``, ``bands`` (ARR per band, lowest band first), ``histogram``, ``scatter``,
    ``trend``, ``at_risk``; ``None`` for a frame whose mart or column is not published.
    """
    frames = _frames(
        {
            "summary": _portfolio_summary_query(),
            "bands": _arr_by_health_band_query(),
            "histogram": _arr_histogram_query(bin_width),
            "scatter": _accounts_for_scatter_query(),
            "trend": _health_band_trend_query(weeks),
            "at_risk": _at_risk_arr_query(),
        },
        optional=True,
    )
    if all(frame is None for frame in frames.values()):
        raise MartMissing([DIM_ACCOUNTS, HEALTH_DAILY, AT_RISK_ARR])
    return frames


def band_order() -> list[str]:
    """Health bands from the lowest score to the highest, as the current accounts show them."""
    return arr_by_health_band()["health_band"].astype(str).tolist()


# --------------------------------------------------------------------------------------------------
# Priority queue
# --------------------------------------------------------------------------------------------------


def filter_options() -> dict[str, list[str]]:
    """Distinct CSM owners, segments and quadrants of the current accounts (for the filters)."""
    frames = _frames(
        {
            name: Query(
                f"select distinct {name} as value from {DIM_ACCOUNTS} where {name} is not null order by 1",
                tables=(DIM_ACCOUNTS,),
            )
            for name in ("csm_owner", "segment", "quadrant")
        }
    )
    return {name: frame["value"].astype(str).tolist() for name, frame in frames.items() if frame is not None}


def priority_queue(
    csm_owners: Iterable[str] | None = None,
    segments: Iterable[str] | None = None,
    quadrants: Iterable[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The CS priority queue, ranked, with the account context a CSM needs, filtered."""
    conditions = ""
    params: tuple[Any, ...] = ()
    for column, values in (
        ("accounts.csm_owner", csm_owners),
        ("accounts.segment", segments),
        ("accounts.quadrant", quadrants),
    ):
        condition, values_params = _in_filter(column, values)
        conditions += condition
        params += values_params
    limit_sql = ""
    if limit is not None:
        limit_sql = " limit ?"
        params += (max(0, int(limit)),)
    return _frame(
        Query(
            f"""
            select
                queue.priority_rank,
                queue.account_id,
                accounts.account_name,
                queue.reasons,
                queue.priority_score,
                accounts.health_score,
                accounts.health_band,
                accounts.quadrant,
                accounts.arr,
                accounts.days_to_renewal,
                accounts.csm_owner,
                accounts.segment
            from {PRIORITY_QUEUE} as queue
            left join {DIM_ACCOUNTS} as accounts
                on queue.account_id = accounts.account_id
            where true{conditions}
            order by queue.priority_rank, queue.account_id{limit_sql}
            """,
            params,
            tables=(PRIORITY_QUEUE, DIM_ACCOUNTS),
        )
    )


# --------------------------------------------------------------------------------------------------
# Account detail
# --------------------------------------------------------------------------------------------------


def account_choices() -> pd.DataFrame:
    """Every current account id and name, for the account picker."""
    return _frame(
        Query(
            f"select account_id, account_name from {DIM_ACCOUNTS} order by account_id",
            tables=(DIM_ACCOUNTS,),
        )
    )


# The daily frames of the account page: one query reads both column sets (history, usage).
HISTORY_COLUMNS = (
    "date_day",
    "health_band",
    "health_score",
    "usage_score",
    "relationship_score",
    "recency_score",
    "adoption_score",
    "depth_score",
    "breadth_score",
    "cs_engagement_score",
    "quadrant",
)
USAGE_COLUMNS = (
    "date_day",
    "health_band",
    "is_at_risk",
    "arr",
    "licensed_seats",
    "active_users_30d",
    "active_user_ratio_30d",
    "human_touches_90d",
    "days_since_human_touch",
    "avg_nps_180d",
    "avg_nps_last_90d",
)
DAILY_COLUMNS = tuple(dict.fromkeys(HISTORY_COLUMNS + USAGE_COLUMNS))
# The dim_accounts columns the account page shows (not `*`: each column of a frame costs time).
ACCOUNT_COLUMNS = (
    "account_id",
    "account_name",
    "segment",
    "csm_owner",
    "subscription_status",
    "arr",
    "mrr",
    "licensed_seats",
    "renewal_date",
    "days_to_renewal",
    "last_active_at",
    "days_since_active",
    "active_users_7d",
    "active_users_30d",
    "active_user_ratio_30d",
    "key_features_used_30d",
    "usage_score",
    "relationship_score",
    "health_score",
    "health_band",
    "health_score_delta_30d",
    "churn_probability_90d",
    "config_version",
    "quadrant",
    "quadrant_status",
    "previous_quadrant",
    "is_at_risk",
    "has_override",
    "override_note",
    "override_author",
    "override_expires_at",
)
ACCOUNT_SELECT = ", ".join(ACCOUNT_COLUMNS)


def account_detail(account_id: str) -> dict[str, pd.DataFrame | None]:
    """Every frame the account-detail page needs, from one cursor of the reused read-only view.

    Keys: ``account`` (the ``dim_accounts`` row, ``ACCOUNT_COLUMNS``; empty when the id is
    unknown), ``history`` (daily scores, components and quadrant), ``usage`` (daily seats, active
    users, ARR, CS touches and NPS averages the daily mart carries beyond the contract; ``history``
    and ``usage`` come from one query of ``fct_account_health_daily``), ``features`` (the key
    features from ``fct_account_feature_usage``: used in the window or not, active users, events,
    last used), ``movements``, ``alerts``, ``signals``, ``mrr`` (monthly MRR movements),
    ``touches`` (the 25 latest CS touches), ``nps`` (NPS answers). A frame is ``None`` when its
    mart (or a column it reads) is not published; a missing ``dim_accounts`` raises
    ``MartMissing`` instead (the page is meaningless without it).
    """
    frames = _frames(
        _account_queries(account_id),
        optional=True,
        splits=(("daily", "history", HISTORY_COLUMNS), ("daily", "usage", USAGE_COLUMNS)),
    )
    if frames["account"] is None:
        raise MartMissing([DIM_ACCOUNTS])
    return frames


def _account_queries(account_id: str) -> dict[str, Query]:
    """The queries of ``account_detail`` (before the daily frame is split), frames built by numpy,
    rows ordered after the fetch (``Query.order``; ``Query.ordered_sql()`` is each as one SQL)."""
    key = (str(account_id),)
    queries = {
        "account": Query(
            f"select {ACCOUNT_SELECT} from {DIM_ACCOUNTS} where account_id = ?",
            key,
            (DIM_ACCOUNTS,),
        ),
        "daily": Query(
            f"""
            select {", ".join(DAILY_COLUMNS)}
            from {HEALTH_DAILY}
            where account_id = ?
            """,
            key,
            (HEALTH_DAILY,),
            order=(("date_day", False),),
        ),
        "features": Query(
            f"""
            select
                feature,
                is_adopted_30d,
                active_users_30d,
                events_30d,
                last_used_on,
                as_of_date
            from {FEATURE_USAGE}
            where account_id = ?
            """,
            key,
            (FEATURE_USAGE,),
            order=(
                ("is_adopted_30d", True),
                ("active_users_30d", True),
                ("last_used_on", True),
                ("feature", False),
            ),
        ),
        "movements": Query(
            f"""
            select week_start, from_quadrant, to_quadrant, needs_attention
            from {MOVEMENTS}
            where account_id = ?
            """,
            key,
            (MOVEMENTS,),
            order=(("week_start", True),),
        ),
        "alerts": Query(
            f"""
            select alerted_on, alert_type, severity, message, arr, alert_id
            from {ALERTS}
            where account_id = ?
            """,
            key,
            (ALERTS,),
            order=(("alerted_on", True), ("alert_id", False)),
            hidden=("alert_id",),
        ),
        "signals": Query(
            f"""
            select signaled_on, signal_type, signal_value
            from {SIGNALS}
            where account_id = ?
            """,
            key,
            (SIGNALS,),
            order=(("signaled_on", True), ("signal_type", False)),
        ),
        "mrr": Query(
            f"""
            select month_start, mrr, previous_mrr, mrr_change, movement_type
            from {MRR_MOVEMENTS}
            where account_id = ?
            """,
            key,
            (MRR_MOVEMENTS,),
            order=(("month_start", False),),
        ),
        "touches": Query(
            f"""
            select occurred_at, activity_type, is_human_touch, is_automated, sentiment, author, activity_id
            from {CS_TOUCHES}
            where account_id = ?
            """,
            key,
            (CS_TOUCHES,),
            order=(("occurred_at", True), ("activity_id", False)),
            limit=25,
            hidden=("activity_id",),
        ),
        "nps": Query(
            f"""
            select submitted_at, nps_score, nps_category, respondent_email, nps_response_id
            from {NPS_RESPONSES}
            where account_id = ?
            """,
            key,
            (NPS_RESPONSES,),
            order=(("submitted_at", False), ("nps_response_id", False)),
            hidden=("nps_response_id",),
        ),
    }
    # The daily mart (6.7M rows at `large`) is stored by account: its zone maps find the account's
    # one row group, and it is too large to hold per account in memory. The others are read once.
    return {
        name: query._replace(
            numpy=True, all_accounts_sql="" if name == "daily" else _for_every_account(query.sql)
        )
        for name, query in queries.items()
    }


def _for_every_account(sql: str) -> str:
    """``select <columns> from <table> where account_id = ?`` for every account, ``ACCOUNT_KEY`` first."""
    body = " ".join(sql.split())
    assert body.startswith("select ") and body.endswith(" where account_id = ?"), sql
    return f"select account_id as {ACCOUNT_KEY}, {body[len('select ') : -len(' where account_id = ?')]}"


# --------------------------------------------------------------------------------------------------
# Quadrant review
# --------------------------------------------------------------------------------------------------


def quadrant_movements(weeks: int = 8, needs_attention_only: bool = True) -> pd.DataFrame:
    """Quadrant changes of the last ``weeks`` weeks with the account context, newest first."""
    weeks = max(1, min(int(weeks), 260))
    return _frame(
        Query(
            f"""
            select
                movements.week_start,
                movements.account_id,
                accounts.account_name,
                accounts.csm_owner,
                accounts.segment,
                movements.from_quadrant,
                movements.to_quadrant,
                movements.needs_attention,
                accounts.health_score,
                accounts.arr
            from {MOVEMENTS} as movements
            left join {DIM_ACCOUNTS} as accounts
                on movements.account_id = accounts.account_id
            where movements.week_start > (select max(week_start) from {MOVEMENTS}) - ? * interval 7 day
                and (movements.needs_attention or not ?)
            order by movements.week_start desc, accounts.arr desc nulls last, movements.account_id
            """,
            (weeks, bool(needs_attention_only)),
            tables=(MOVEMENTS, DIM_ACCOUNTS),
        )
    )


def quadrant_flow(weeks: int = 8) -> pd.DataFrame:
    """Counts of moves from one quadrant to another over the last ``weeks`` weeks."""
    weeks = max(1, min(int(weeks), 260))
    return _frame(
        Query(
            f"""
            select from_quadrant, to_quadrant, count(*) as movements
            from {MOVEMENTS}
            where week_start > (select max(week_start) from {MOVEMENTS}) - ? * interval 7 day
            group by from_quadrant, to_quadrant
            order by movements desc, from_quadrant, to_quadrant
            """,
            (weeks,),
            tables=(MOVEMENTS,),
        )
    )


# --------------------------------------------------------------------------------------------------
# Revenue
# --------------------------------------------------------------------------------------------------


def revenue_retention() -> pd.DataFrame:
    """Monthly MRR bridge with NRR, GRR and churn rates, oldest first."""
    return _frame(
        Query(f"select * from {REVENUE_RETENTION} order by month_start", tables=(REVENUE_RETENTION,))
    )


def mrr_movements_by_month() -> pd.DataFrame:
    """Sum of MRR change per month and movement type (the MRR bridge chart)."""
    return _frame(
        Query(
            f"""
            select month_start, movement_type, count(*) as accounts, sum(mrr_change) as mrr_change
            from {MRR_MOVEMENTS}
            group by month_start, movement_type
            order by month_start, movement_type
            """,
            tables=(MRR_MOVEMENTS,),
        )
    )


def cohort_retention() -> pd.DataFrame:
    """Logo and revenue retention per start cohort and months since start."""
    return _frame(
        Query(
            f"select * from {COHORT_RETENTION} order by cohort_month, months_since_start",
            tables=(COHORT_RETENTION,),
        )
    )


# --------------------------------------------------------------------------------------------------
# Product, model accuracy
# --------------------------------------------------------------------------------------------------


def feature_adoption() -> pd.DataFrame:
    """Adoption rate of each key feature per quadrant (and any extra cohorts the mart carries)."""
    return _frame(
        Query(f"select * from {FEATURE_ADOPTION} order by feature, quadrant", tables=(FEATURE_ADOPTION,))
    )


def feature_adoption_by_outcome() -> pd.DataFrame:
    """Key-feature adoption in the 30/60/90 days before renewal, accounts that renewed vs churned."""
    return _frame(
        Query(
            f"""
            select feature, window_days, outcome, accounts, adopting_accounts, adoption_rate
            from {ADOPTION_BY_OUTCOME}
            order by window_days, feature, outcome desc
            """,
            tables=(ADOPTION_BY_OUTCOME,),
        )
    )


def event_taxonomy() -> pd.DataFrame:
    """The company's track events: volume, reach, role, renewal rate when used or not (by reach)."""
    return _frame(
        Query(
            f"""
            select
                event_name, event_role, accounts, renewal_rate_used, renewal_rate_not_used, renewal_rate_lift,
                used_accounts, used_renewed_accounts, not_used_accounts, not_used_renewed_accounts,
                events, users, first_seen_at, last_seen_at, key_feature_name, renewal_window_days,
                outcome_accounts
            from {EVENT_TAXONOMY}
            order by accounts desc, events desc, event_name
            """,
            tables=(EVENT_TAXONOMY,),
        )
    )


def champions_distinctive_events(limit: int = 10) -> pd.DataFrame:
    """Events Champions use more than the other quadrants (largest usage-rate gap first)."""
    return _frame(
        Query(
            f"""
            select event_name, usage_rate_gap, usage_rate, other_usage_rate, using_accounts, accounts
            from {EVENT_USAGE_BY_QUADRANT}
            where quadrant = 'Champions' and usage_rate_gap > 0
            order by usage_rate_gap desc, using_accounts desc, event_name
            limit ?
            """,
            (int(limit),),
            tables=(EVENT_USAGE_BY_QUADRANT,),
        )
    )


def quadrant_top_events(quadrant: str, limit: int = 10) -> pd.DataFrame:
    """The events most of a quadrant's accounts used in the last window (usage_rank order)."""
    return _frame(
        Query(
            f"""
            select event_name, usage_rate, using_accounts, accounts, events, other_usage_rate, usage_rate_gap
            from {EVENT_USAGE_BY_QUADRANT}
            where quadrant = ? and using_accounts > 0
            order by usage_rank
            limit ?
            """,
            (str(quadrant), int(limit)),
            tables=(EVENT_USAGE_BY_QUADRANT,),
        )
    )


def activation() -> pd.DataFrame:
    """Activation per signup month: accounts, activated (ever, within 30 days), rates, speed."""
    return _frame(Query(f"select * from {ACTIVATION} order by signup_month", tables=(ACTIVATION,)))


def quadrant_distribution_monthly() -> pd.DataFrame:
    """Accounts and ARR per quadrant (or unknown-quadrant reason) on each month's last scored day,
    from the first month in which any account had a quadrant (earlier months are all unknown)."""
    return _frame(
        Query(
            f"""
            select
                month_start, scored_on, coalesce(quadrant, 'Unknown: ' || quadrant_status) as cohort,
                quadrant, quadrant_status, accounts, account_share, accounts_with_arr, arr
            from {QUADRANT_DISTRIBUTION}
            where month_start >= (
                select min(month_start) from {QUADRANT_DISTRIBUTION} where quadrant is not null
            )
            order by month_start, quadrant_status, quadrant
            """,
            tables=(QUADRANT_DISTRIBUTION,),
        )
    )


def quadrant_churn_quarterly() -> pd.DataFrame:
    """Churn rate per quadrant per quarter of the accounts paying at the quarter's start."""
    return _frame(
        Query(
            f"""
            select
                quarter_start, quadrant, is_complete, accounts, churned_accounts, churn_rate,
                churn_rate_vs_champions, starting_mrr, churned_mrr
            from {QUADRANT_CHURN}
            order by quarter_start, quadrant
            """,
            tables=(QUADRANT_CHURN,),
        )
    )


def embedded_deteriorating(high_arr_only: bool = True) -> pd.DataFrame:
    """Embedded (high usage) accounts whose health fell, largest ARR first; optionally high-ARR only."""
    return _frame(
        Query(
            f"""
            select
                account_id, account_name, segment, csm_owner, arr, arr_rank, arr_band, days_to_renewal,
                usage_score, health_score, health_score_delta_30d, largest_decline_component,
                largest_decline_points, relationship_score, quadrant, is_at_risk
            from {EMBEDDED_DETERIORATING}
            where arr_band = 'high' or not ?
            order by arr desc nulls last, health_score_delta_30d, account_id
            """,
            (bool(high_arr_only),),
            tables=(EMBEDDED_DETERIORATING,),
        )
    )


def alerts_monthly() -> pd.DataFrame:
    """Alerts per account per month by alert type: alerted accounts over the accounts scored."""
    return _frame(
        Query(
            f"""
            select
                month_start, alert_type, scored_accounts, alerts, alerted_accounts,
                alerted_account_share, alerts_per_account
            from {ALERTS_MONTHLY}
            order by month_start, alert_type
            """,
            tables=(ALERTS_MONTHLY,),
        )
    )


def score_backtest() -> pd.DataFrame:
    """Churn rate per scoring date, horizon, config version and health band."""
    return _frame(
        Query(
            f"select * from {SCORE_BACKTEST} order by scored_on, horizon_days, config_version, health_band",
            tables=(SCORE_BACKTEST,),
        )
    )


def scored_config_version() -> str | None:
    """The config version that scored the published history (dim_accounts.config_version)."""
    frame = _frame(
        Query(
            f"select max(config_version) as config_version from {DIM_ACCOUNTS}",
            tables=(DIM_ACCOUNTS,),
        )
    )
    return None if frame.empty else frame["config_version"].iloc[0]


def churn_calibration() -> pd.DataFrame:
    """Predicted against observed churn per probability decile, on the churn model's held-out months."""
    return _frame(
        Query(
            f"select * from {CHURN_CALIBRATION} order by model_version, horizon_days, probability_decile",
            tables=(CHURN_CALIBRATION,),
        )
    )


def score_backtest_accuracy() -> pd.DataFrame:
    """Per horizon and config version, the at-risk flag's precision and recall and the score's
    extremes, pooled over every scoring date: the counts are summed first, then divided (a mean of
    monthly rates would weigh a small month like a large one)."""
    return _frame(
        Query(
            f"""
            with pooled as (
                select
                    horizon_days,
                    config_version,
                    count(*) as scoring_dates,
                    sum(scored_accounts) as scored_accounts,
                    sum(insufficient_data_accounts) as insufficient_data_accounts,
                    sum(churned_accounts) as churned_accounts,
                    sum(flagged_accounts) as flagged_accounts,
                    sum(flagged_churned_accounts) as flagged_churned_accounts,
                    sum(under_30_accounts) as under_30_accounts,
                    sum(under_30_churned_accounts) as under_30_churned_accounts,
                    sum(over_70_renewals_due) as over_70_renewals_due,
                    sum(over_70_renewed) as over_70_renewed
                from {SCORE_BACKTEST_ACCURACY}
                group by horizon_days, config_version
            )
            select
                *,
                flagged_churned_accounts / nullif(flagged_accounts, 0)::double as at_risk_precision,
                flagged_churned_accounts / nullif(churned_accounts, 0)::double as at_risk_recall,
                under_30_churned_accounts / nullif(under_30_accounts, 0)::double as churn_rate_under_30,
                over_70_renewed / nullif(over_70_renewals_due, 0)::double as renewal_rate_over_70
            from pooled
            order by horizon_days, config_version
            """,
            tables=(SCORE_BACKTEST_ACCURACY,),
        )
    )


# --------------------------------------------------------------------------------------------------
# Data health
# --------------------------------------------------------------------------------------------------


def rejected_records_by_reason() -> pd.DataFrame:
    """Rejected raw records per source table and reason."""
    return _frame(
        Query(
            f"""
            select source_system, source_table, reason, count(*) as records
            from {REJECTED_RECORDS}
            group by source_system, source_table, reason
            order by records desc, source_system, source_table, reason
            """,
            tables=(REJECTED_RECORDS,),
        )
    )


# No function here reads quality.rejected_records.raw_payload: raw records carry personal data
# (e-mails in identify traits, NPS respondents, billing contacts). Payloads stay queryable in SQL.


def data_findings_by_type() -> pd.DataFrame:
    """Data findings per kind: how many, how many accounts, and the ARR no account receives."""
    return _frame(
        Query(
            f"""
            select
                finding_type,
                count(*) as findings,
                count(distinct account_id) as accounts,
                sum(arr) as arr
            from {DATA_FINDINGS}
            group by finding_type
            order by findings desc, finding_type
            """,
            tables=(DATA_FINDINGS,),
        )
    )


def data_findings(finding_type: str | None = None, limit: int = 500) -> pd.DataFrame:
    """The findings, of one kind or all, as dbt wrote them (ids and numbers, no personal data)."""
    return _frame(
        Query(
            f"""
            select
                finding_type,
                account_id,
                subject,
                detail,
                period_start_date,
                period_end_date,
                affected_days,
                arr,
                invoiced_amount,
                observed_on
            from {DATA_FINDINGS}
            where cast(? as varchar) is null or finding_type = ?
            order by finding_type, account_id nulls last, subject
            limit ?
            """,
            (
                None if finding_type is None else str(finding_type),
                None if finding_type is None else str(finding_type),
                max(0, min(int(limit), 5000)),
            ),
            tables=(DATA_FINDINGS,),
        )
    )


def run_log(limit: int = 20) -> pd.DataFrame:
    """The CLI's latest runs, newest first."""
    return _frame(
        Query(
            f"select * from {RUN_LOG} order by started_at desc limit ?",
            (max(1, min(int(limit), 1000)),),
            tables=(RUN_LOG,),
        )
    )


def freshness() -> pd.DataFrame:
    """Row counts of every published mart and the newest date each one holds (missing marts: absent)."""
    date_columns = {
        DIM_ACCOUNTS: "cast(max(last_active_at) as date)",
        HEALTH_DAILY: "max(date_day)",
        MOVEMENTS: "max(week_start)",
        ALERTS: "max(alerted_on)",
        SIGNALS: "max(signaled_on)",
        AT_RISK_ARR: "max(as_of_date)",
        PRIORITY_QUEUE: "null",
        MRR_MOVEMENTS: "max(month_start)",
        REVENUE_RETENTION: "max(month_start)",
        COHORT_RETENTION: "max(cohort_month)",
        FEATURE_ADOPTION: "null",
        SCORE_BACKTEST: "max(scored_on)",
        SCORE_BACKTEST_ACCURACY: "max(scored_on)",
        CHURN_CALIBRATION: "max(last_scored_on)",
        ACTIVATION: "max(signup_month)",
        FEATURE_USAGE: "max(as_of_date)",
        ADOPTION_BY_OUTCOME: "null",
        EVENT_TAXONOMY: "max(last_seen_at)",
        EVENT_USAGE_BY_QUADRANT: "max(as_of_date)",
        ALERTS_MONTHLY: "max(month_start)",
        QUADRANT_DISTRIBUTION: "max(scored_on)",
        QUADRANT_CHURN: "max(quarter_start)",
        EMBEDDED_DETERIORATING: "max(as_of_date)",
    }
    queries = {
        table: Query(
            f"select count(*) as row_count, cast({expression} as date) as latest_date from {table}",
            tables=(table,),
        )
        for table, expression in date_columns.items()
    }
    frames = _frames(queries, optional=True)
    rows = [
        {
            "mart": table,
            "published": frame is not None,
            "rows": None if frame is None else int(frame["row_count"].iloc[0]),
            "latest_date": None if frame is None else frame["latest_date"].iloc[0],
        }
        for table, frame in frames.items()
    ]
    return pd.DataFrame(rows)
