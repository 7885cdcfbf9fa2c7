"""Write-audit-publish mechanics: the writer lock, the candidate file, the atomic publish, rollback.

The published warehouse is only ever replaced whole, by `os.replace` of a candidate that was
loaded, built, tested and audited. Readers that opened the old file keep reading it; new readers
see the new file; nobody ever sees a half-built warehouse. The candidate starts as a copy of the
published file, so raw data and incremental state carry over from run to run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)


class WarehouseBusy(RuntimeError):
    """Another process holds the writer lock of this warehouse."""


class PublishError(RuntimeError):
    """A step of the run failed; the published warehouse was left untouched."""

    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


# --------------------------------------------------------------------------------------- lock
class WarehouseLock:
    """One writer per warehouse: an exclusive `flock` on `<warehouse>.lock`, holding the owner's pid.

    The kernel drops a flock when its process dies, however it dies, so a lock left by a killed run
    never blocks the next one (the stale pid in the file is only informative). A second writer fails
    at once with WarehouseBusy instead of waiting, and touches nothing.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> WarehouseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                holder = self.holder()
                raise WarehouseBusy(
                    f"warehouse busy: {self.path.name} is held by pid {holder or 'unknown'}"
                ) from None
            raise
        previous = os.read(fd, 64).decode(errors="replace").strip()
        if previous and previous != str(os.getpid()):
            logger.info("recovered the writer lock left by pid %s (no longer running)", previous)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def holder(self) -> int | None:
        """The pid written by the current or last holder, if any."""
        try:
            text = self.path.read_text().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WarehouseLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_locked(path: Path) -> bool:
    """True when a live process holds the lock (probe without taking it for long)."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------- candidate
def _remove_db(path: Path) -> None:
    for extra in (path, path.with_name(path.name + ".wal")):
        extra.unlink(missing_ok=True)


def remove_stale_candidate(settings) -> bool:
    """Delete a candidate left by a failed or killed run. Call only while holding the lock."""
    found = settings.candidate.exists() or settings.candidate_state.exists()
    if found:
        logger.info("removing stale candidate %s", settings.candidate)
    _remove_db(settings.candidate)
    settings.candidate_state.unlink(missing_ok=True)
    return found


def prepare_candidate(settings) -> Path:
    """A fresh candidate: a copy of the published file when there is one, else an empty file.

    Copying keeps raw data and incremental models, so a run over a drop with new files adds only
    what is new. The copy is written under a temporary name and renamed, so a crash mid-copy never
    leaves a truncated candidate that looks complete.
    """
    remove_stale_candidate(settings)
    settings.candidate.parent.mkdir(parents=True, exist_ok=True)
    if settings.warehouse.exists():
        tmp = settings.candidate.with_name(settings.candidate.name + ".copying")
        shutil.copy2(settings.warehouse, tmp)
        os.replace(tmp, settings.candidate)
        logger.info("candidate %s copied from the published warehouse", settings.candidate)
    else:
        logger.info("candidate %s starts empty (nothing published yet)", settings.candidate)
    write_state(settings, {"created_at": _utcnow(), "steps": []})
    return settings.candidate


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(settings) -> dict | None:
    try:
        return json.loads(settings.candidate_state.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def write_state(settings, state: dict) -> None:
    tmp = settings.candidate_state.with_name(settings.candidate_state.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, settings.candidate_state)


def mark_step(settings, step: str, **info) -> None:
    """Record in the candidate's state file that a step passed (publish requires load and build)."""
    state = read_state(settings) or {"steps": []}
    if step not in state["steps"]:
        state["steps"].append(step)
    state.update(info)
    write_state(settings, state)


# ------------------------------------------------------------------------------------ quality
# Raw table -> staging model, for the reconciliation `raw rows + quarantined rows = staged rows +
# rejected rows` (quarantined: records the loader meant for the table but could not land; they are
# among the rejected rows).
# A raw table may be named in several ways by dlt (child tables of nested lists); the first one
# that exists is used. Events reconcile from deliveries: a redelivered messageId is one event plus
# one rejected delivery (DECISIONS.md, 2026-11-23).
RECONCILIATION = [
    ("raw_product", ("event_deliveries",), "stg_product__events", ("events", "event_deliveries")),
    ("raw_product", ("account_memberships",), "stg_product__account_memberships", ()),
    ("raw_stripe", ("customers",), "stg_stripe__customers", ()),
    ("raw_stripe", ("subscriptions",), "stg_stripe__subscriptions", ()),
    (
        "raw_stripe",
        ("subscriptions__items__data", "subscriptions__items"),
        "stg_stripe__subscription_items",
        ("subscription_items", "subscriptions__items__data", "subscriptions__items"),
    ),
    ("raw_stripe", ("invoices",), "stg_stripe__invoices", ()),
    (
        "raw_stripe",
        ("invoices__lines__data", "invoices__lines"),
        "stg_stripe__invoice_lines",
        ("invoice_lines", "invoices__lines__data", "invoices__lines"),
    ),
    ("raw_crm", ("accounts",), "stg_crm__accounts", ()),
    ("raw_crm", ("cs_activities",), "stg_crm__cs_activities", ()),
    ("raw_crm", ("nps_responses",), "stg_crm__nps_responses", ()),
    ("raw_crm", ("support_tickets",), "stg_crm__support_tickets", ()),
    ("raw_crm", ("health_overrides",), "stg_crm__health_overrides", ()),
]


def _tables(con) -> set[tuple[str, str]]:
    rows = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    return {(schema, name) for schema, name in rows}


def collect_quality(path: Path) -> dict:
    """Rejections by reason, unresolved events and the per-table reconciliation of a built warehouse.

    Opens the file read-only. Everything not built yet is reported as missing, not as zero.
    """
    import duckdb

    report: dict = {
        "rejected_by_reason": {},
        "rows_rejected": None,
        "unresolved_events": None,
        "reconciliation": [],
        "raw_rows": None,
    }
    if not path.exists():
        return report
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = _tables(con)
        rejected_by_table: dict[str, int] = {}
        if ("quality", "rejected_records") in tables:
            rows = con.execute(
                "select reason, count(*) from quality.rejected_records group by reason order by 2 desc, 1"
            ).fetchall()
            report["rejected_by_reason"] = {reason: count for reason, count in rows}
            report["rows_rejected"] = sum(count for _, count in rows)
            for table, count in con.execute(
                "select lower(source_table), count(*) from quality.rejected_records group by 1"
            ).fetchall():
                rejected_by_table[str(table)] = count
        if ("quality", "unresolved_events") in tables:
            report["unresolved_events"] = con.execute(
                "select count(*) from quality.unresolved_events"
            ).fetchone()[0]
        raw_total = 0
        # records the loader meant for a raw table but quarantined: rejected without a raw row
        quarantined_by_table: dict[tuple[str, str], int] = {}
        for schema in {entry[0] for entry in RECONCILIATION}:
            if (schema, "quarantined_records") in tables:
                for table, count in con.execute(
                    f"select source_table, count(*) from {schema}.quarantined_records group by 1"
                ).fetchall():
                    quarantined_by_table[(schema, str(table))] = count
        for schema, raw_names, model, aliases in RECONCILIATION:
            raw_name = next((name for name in raw_names if (schema, name) in tables), None)
            if raw_name is None:
                continue
            raw_rows = con.execute(f'select count(*) from {schema}."{raw_name}"').fetchone()[0]
            quarantined = sum(quarantined_by_table.get((schema, name), 0) for name in raw_names)
            raw_total += raw_rows + quarantined
            staged = None
            if ("staging", model) in tables:
                staged = con.execute(f'select count(*) from staging."{model}"').fetchone()[0]
            names = {raw_name, f"{schema}.{raw_name}", model, *aliases}
            rejected = sum(count for table, count in rejected_by_table.items() if table in names)
            report["reconciliation"].append(
                {
                    "raw_table": f"{schema}.{raw_name}",
                    "raw_rows": raw_rows,
                    "quarantined_rows": quarantined,
                    "staged_rows": staged,
                    "rejected_rows": rejected,
                    "balanced": None if staged is None else raw_rows + quarantined == staged + rejected,
                }
            )
        report["raw_rows"] = raw_total
    finally:
        con.close()
    return report


def collect_findings(path: Path) -> dict[str, int] | None:
    """Data findings by finding_type in quality.data_findings of a built warehouse, most first.

    Findings are not rejections: they block nothing, the summary only makes them visible. Opens
    the file read-only; None when the file or the table is not there (not built is not zero).
    """
    import duckdb

    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        if ("quality", "data_findings") not in _tables(con):
            return None
        rows = con.execute(
            "select finding_type, count(*) from quality.data_findings "
            "group by finding_type order by 2 desc, 1"
        ).fetchall()
    finally:
        con.close()
    return {str(finding_type): int(count) for finding_type, count in rows}


def rejected_share(report: dict) -> float | None:
    if report.get("rows_rejected") is None or not report.get("raw_rows"):
        return None
    return report["rows_rejected"] / report["raw_rows"]


# ------------------------------------------------------------------------------------ publish
def publish_candidate(settings, run_log_records: list[dict]) -> Path:
    """Copy the run log into the candidate, checkpoint it, and atomically make it the published file.

    The file published before is kept as `<stem>.previous.duckdb` (a hard link to the old inode,
    made before the swap, so the published path never disappears) for `rollback`.
    """
    import duckdb

    from pipelines.runlog import write_run_log_table

    con = duckdb.connect(str(settings.candidate))
    try:
        write_run_log_table(con, run_log_records)
        con.execute("checkpoint")
    finally:
        con.close()
    _fsync_file(settings.candidate)
    if settings.warehouse.exists():
        _keep_previous(settings)
    os.replace(settings.candidate, settings.warehouse)
    _fsync_dir(settings.warehouse.parent)
    settings.candidate_state.unlink(missing_ok=True)
    logger.info("published %s", settings.warehouse)
    return settings.warehouse


def _keep_previous(settings) -> None:
    tmp = settings.previous.with_name(settings.previous.name + ".linking")
    tmp.unlink(missing_ok=True)
    try:
        os.link(settings.warehouse, tmp)
    except OSError:  # file systems without hard links: copy instead
        shutil.copy2(settings.warehouse, tmp)
    os.replace(tmp, settings.previous)


def rollback(settings) -> Path:
    """Swap the published file and the previous one (rolling back twice rolls forward again)."""
    if not settings.previous.exists():
        raise PublishError(
            "rollback", f"no previous publish to roll back to ({settings.previous} is missing)"
        )
    if not settings.warehouse.exists():
        os.replace(settings.previous, settings.warehouse)
        return settings.warehouse
    tmp = settings.warehouse.with_name(settings.warehouse.name + ".rollback")
    tmp.unlink(missing_ok=True)
    os.link(settings.warehouse, tmp)
    os.replace(settings.previous, settings.warehouse)
    os.replace(tmp, settings.previous)
    _fsync_dir(settings.warehouse.parent)
    logger.info("rolled back %s to the previous publish", settings.warehouse)
    return settings.warehouse


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mart_fingerprints(path: Path) -> dict[str, str]:
    """A content hash per table in schema `marts` (order-independent), for comparing two publishes."""
    import hashlib

    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        out = {}
        for name in names:
            rows = con.execute(f'select * from marts."{name}"').fetchall()
            lines = sorted(repr(row) for row in rows)
            out[name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        return out
    finally:
        con.close()
