"""The run log: one record per CLI run, kept where a failed run can still write it.

A failed run is never published, so its record cannot live only inside the warehouse. Every run
appends one JSON line to `<warehouse dir>/runs/run_log.jsonl` (the sidecar); a run that publishes
first copies the whole sidecar into `quality.run_log` of the candidate, so BI users see the history
of every run, failed ones included, up to the one that produced the file they read.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

# Column order of quality.run_log; the JSON record carries the same keys.
RUN_LOG_COLUMNS = {
    "run_id": "varchar",
    "command": "varchar",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "outcome": "varchar",
    "failed_step": "varchar",
    "message": "varchar",
    "source_dir": "varchar",
    "warehouse": "varchar",
    "as_of_date": "varchar",
    "rows_landed": "bigint",
    "rows_rejected": "bigint",
    "rejected_share": "double",
    "unresolved_events": "bigint",
    "elapsed_seconds": "double",
    "step_seconds": "varchar",
}


def new_run_id() -> str:
    """A sortable, unique run id: UTC start time plus a random suffix (two runs in one second)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


@dataclass
class RunRecord:
    """What one run did; written to the sidecar when the run ends, however it ends."""

    run_id: str
    command: str
    source_dir: str | None = None
    warehouse: str | None = None
    as_of_date: str | None = None
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    outcome: str = "running"  # published | failed | busy | rolled_back | ok (single steps)
    failed_step: str | None = None
    message: str | None = None
    rows_landed: int | None = None
    rows_rejected: int | None = None
    rejected_share: float | None = None
    unresolved_events: int | None = None
    # quality.data_findings rows by finding_type; None when the model was not built (not zero)
    findings_by_type: dict[str, int] | None = None
    # key features seen in the events, alerts per account per month (pipelines/features.py)
    summary_checks: dict | None = None
    elapsed_seconds: float | None = None
    steps: dict[str, float] = field(default_factory=dict)
    landed: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reconciliation: list[dict] = field(default_factory=list)
    # {contract input: present | empty | missing}, and the freshness of each checked source table
    inputs: dict[str, str] = field(default_factory=dict)
    freshness: list[dict] = field(default_factory=list)
    # one summary per connector pulled (`--source`): records, API calls, unknown fields
    pulled: list[dict] = field(default_factory=list)
    published_path: str | None = None
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @contextmanager
    def step(self, name: str):
        """Time one step; on an exception, name it as the failed step and re-raise."""
        t0 = time.monotonic()
        logger.info("step %s: started", name)
        try:
            yield
        except BaseException:
            self.failed_step = self.failed_step or name
            raise
        finally:
            self.steps[name] = round(time.monotonic() - t0, 3)
            logger.info("step %s: %.1f s", name, self.steps[name])

    def finish(self, outcome: str, message: str | None = None) -> None:
        self.outcome = outcome
        if message is not None:
            self.message = message
        self.finished_at = _now()
        self.elapsed_seconds = round(time.monotonic() - self._t0, 3)

    def as_json(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        return data


def append_sidecar(path: Path, record: RunRecord) -> None:
    """Append the record as one line; fsync so a crash right after leaves it readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.as_json(), sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_sidecar(path: Path) -> list[dict]:
    """Every record of the sidecar; a torn last line (crash mid-write) is skipped with a warning."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("run log %s line %d is not valid JSON; skipped", path, number)
    return records


def _row(record: dict) -> tuple:
    values = []
    for column in RUN_LOG_COLUMNS:
        if column == "step_seconds":
            values.append(json.dumps(record.get("steps") or {}, sort_keys=True))
        else:
            values.append(record.get(column))
    return tuple(values)


def write_run_log_table(con, records: list[dict]) -> None:
    """Replace `quality.run_log` in an open DuckDB connection with the given records."""
    con.execute("create schema if not exists quality")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in RUN_LOG_COLUMNS.items())
    con.execute("drop table if exists quality.run_log")
    con.execute(f"create table quality.run_log ({columns})")
    if records:
        placeholders = ", ".join("?" for _ in RUN_LOG_COLUMNS)
        con.executemany(f"insert into quality.run_log values ({placeholders})", [_row(r) for r in records])
