"""The outbox: which notification went where, in a SQLite file beside the warehouse.

Not inside the published DuckDB file, which every publish replaces. One row per item x channel x
recipient, keyed by an idempotency key derived from the three, so an item is queued once whatever
the number of runs. A row is `pending` until the receiver acknowledged it (2xx, or SMTP accepted
the message), then `sent`; each acknowledgement is committed on its own before the next send, so a
crash between a send and its acknowledgement leaves exactly that row pending and the next run resends
only it, with the same key. A permanent refusal (HTTP 4xx, SMTP 5xx) makes the row `failed` with the
receiver's message; `account-health notify --retry-failed` puts failed rows back to pending.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
create table if not exists deliveries (
    idempotency_key text primary key,
    item_id text not null,
    item_kind text not null,
    item_type text not null,
    item_date text not null,
    account_id text,
    channel text not null,
    recipient text not null,
    payload text not null,
    status text not null check (status in ('pending', 'sent', 'failed')),
    attempts integer not null default 0,
    last_error text,
    created_at text not null,
    updated_at text not null,
    sent_at text
);
create index if not exists deliveries_status on deliveries (status, channel);
create table if not exists seen (
    item_id text primary key,
    item_kind text not null,
    item_date text not null,
    marked_at text not null
);
create table if not exists meta (key text primary key, value text not null);
"""


class OutboxBusy(RuntimeError):
    """Another `notify` holds the outbox; two senders at once could send an item twice."""


def state_path(warehouse: Path) -> Path:
    """`warehouse/health.notify_state.sqlite` for `warehouse/health.duckdb`."""
    return warehouse.with_name(warehouse.stem + ".notify_state.sqlite")


def idempotency_key(item_id: str, channel: str, recipient: str) -> str:
    """Stable across runs and machines; also sent to the receiver so it can drop a repeat."""
    return hashlib.sha256(f"{item_id}\x1f{channel}\x1f{recipient}".encode()).hexdigest()[:32]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class Outbox:
    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        if read_only:
            # `status` only looks: it never creates the file or waits on a writer's schema change
            self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit: every statement is its own transaction unless `transaction()` groups them
            self.con = sqlite3.connect(str(path), isolation_level=None)
            self.con.execute("pragma synchronous = full")
            self.con.executescript(SCHEMA)
        self.con.row_factory = sqlite3.Row

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self):
        self.con.execute("begin immediate")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    # --- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.con.execute("select value from meta where key = ?", [key]).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute(
            "insert into meta values (?, ?) on conflict (key) do update set value = excluded.value",
            [key, value],
        )

    # --- queueing ---------------------------------------------------------------------------
    def known_items(self) -> set[str]:
        rows = self.con.execute("select item_id from deliveries union select item_id from seen")
        return {row[0] for row in rows}

    def mark_seen(self, items: list) -> int:
        now = _now()
        before = self.con.total_changes
        self.con.executemany(
            "insert or ignore into seen values (?, ?, ?, ?)",
            [(i.item_id, i.kind, i.item_date, now) for i in items],
        )
        return self.con.total_changes - before

    def enqueue(self, item, channel: str, recipient: str) -> bool:
        """Queue the item for channel x recipient unless that key exists; True when queued."""
        now = _now()
        cursor = self.con.execute(
            "insert or ignore into deliveries (idempotency_key, item_id, item_kind, item_type, item_date, "
            "account_id, channel, recipient, payload, status, created_at, updated_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [
                idempotency_key(item.item_id, channel, recipient),
                item.item_id,
                item.kind,
                item.item_type,
                item.item_date,
                item.account_id,
                channel,
                recipient,
                json.dumps(item.as_json(), sort_keys=True, default=str),
                now,
                now,
            ],
        )
        return cursor.rowcount == 1

    def pending(self, channel: str | None = None) -> list[sqlite3.Row]:
        sql = "select * from deliveries where status = 'pending'"
        params: list = []
        if channel is not None:
            sql += " and channel = ?"
            params.append(channel)
        # digests first, then by day, so a reader gets the overview before the details
        sql += " order by item_kind <> 'digest', item_date, created_at, idempotency_key"
        return self.con.execute(sql, params).fetchall()

    # --- outcomes (each one committed by itself: the acknowledgement must survive a crash) -----
    def mark_sent(self, keys: list[str]) -> None:
        now = _now()
        self.con.executemany(
            "update deliveries set status = 'sent', attempts = attempts + 1, last_error = null, "
            "sent_at = ?, updated_at = ? where idempotency_key = ?",
            [(now, now, key) for key in keys],
        )

    def mark_attempt(self, keys: list[str], status: str, error: str, count_attempt: bool = True) -> None:
        now = _now()
        self.con.executemany(
            f"update deliveries set status = ?, attempts = attempts + {1 if count_attempt else 0}, "
            "last_error = ?, updated_at = ? where idempotency_key = ?",
            [(status, error[:1000], now, key) for key in keys],
        )

    def retry_failed(self, channel: str | None = None) -> int:
        sql = "update deliveries set status = 'pending', updated_at = ? where status = 'failed'"
        params: list = [_now()]
        if channel:
            sql += " and channel = ?"
            params.append(channel)
        return self.con.execute(sql, params).rowcount

    # --- reporting --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        rows = self.con.execute("select status, count(*) from deliveries group by status").fetchall()
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({row[0]: row[1] for row in rows})
        counts["seen"] = self.con.execute("select count(*) from seen").fetchone()[0]
        return counts

    def rows(self, status: str, limit: int = 5) -> list[sqlite3.Row]:
        return self.con.execute(
            "select * from deliveries where status = ? "
            "order by updated_at desc, attempts desc, item_date desc, idempotency_key limit ?",
            [status, limit],
        ).fetchall()


@contextmanager
def locked_outbox(path: Path):
    """The outbox under an exclusive, non-blocking lock on `<state>.lock`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutboxBusy(f"another `account-health notify` is running ({lock_path})") from exc
        outbox = Outbox(path)
        try:
            yield outbox
        finally:
            outbox.close()
            fcntl.flock(handle, fcntl.LOCK_UN)
