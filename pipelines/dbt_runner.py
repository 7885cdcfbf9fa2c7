"""Run dbt in-process against one DuckDB file.

One `dbt build` (every seed, model, snapshot and test) per run, through `dbtRunner`: the CLI pays
dbt's import once instead of ~4 s per subprocess. The CLI's build step runs three commands (build,
unit tests, freshness); `parse` parses the project once and every command reuses that manifest
(`dbtRunner(manifest=...)`), so dbt's parse and manifest write are paid once per run, not three
times. The profile (profiles.yml) reads the file to build from `ACCOUNT_HEALTH_BUILD_DB`; the CLI
points it at the candidate, never at the published file.

dbt-duckdb keeps its DuckDB database open in a class attribute after a command returns. It is closed
here after every command, because the candidate is later opened read-only (audit) and replaced.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_FAILED_STATUSES = {"error", "fail", "runtime error"}


@dataclass
class DbtOutcome:
    """What a dbt command did: success flag and the nodes that failed (id, status, message)."""

    command: str
    success: bool
    failures: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    exception: str | None = None

    def describe(self) -> str:
        if self.exception:
            return f"dbt {self.command} raised: {self.exception}"
        names = ", ".join(f"{f['unique_id']} ({f['status']})" for f in self.failures[:10])
        more = f" and {len(self.failures) - 10} more" if len(self.failures) > 10 else ""
        return f"dbt {self.command} failed: {names or 'see dbt log'}{more}"


def _close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open between commands in this process."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter (PostgreSQL) is in use
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            try:
                env.close()
            except Exception as exc:  # closing is best effort; the next open recreates it
                logger.debug("closing dbt-duckdb environment: %s", exc)
            DuckDBConnectionManager._ENV = None


def _args(
    command: list[str],
    project_dir: Path,
    build_db: Path,
    target_dir: Path,
    log_dir: Path,
    dbt_vars: dict | None,
) -> list[str]:
    os.environ["ACCOUNT_HEALTH_BUILD_DB"] = str(build_db)
    os.environ["DBT_PROFILES_DIR"] = str(project_dir)
    args = [
        *command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(log_dir),
        "--no-use-colors",
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    return args


def parse(
    *,
    project_dir: Path,
    build_db: Path,
    target_dir: Path,
    log_dir: Path,
    dbt_vars: dict | None = None,
) -> Any:
    """Parse the project once (partial parsing from `target_dir`); the manifest for `invoke`.

    None when parsing fails: the caller then lets each command parse (and report the error) itself.
    The manifest holds the vars it was parsed with, so pass `invoke` the same `dbt_vars`.
    """
    from dbt.cli.main import dbtRunner

    args = _args(["parse"], project_dir, build_db, target_dir, log_dir, dbt_vars)
    try:
        result = dbtRunner().invoke(args)
    finally:
        _close_duckdb()
    if not result.success or result.result is None:
        logger.warning("dbt parse failed (%s); commands will parse themselves", result.exception)
        return None
    return result.result


def invoke(
    command: list[str],
    *,
    project_dir: Path,
    build_db: Path,
    target_dir: Path,
    log_dir: Path,
    dbt_vars: dict | None = None,
    artifacts_dir: Path | None = None,
    manifest: Any = None,
) -> DbtOutcome:
    """Run one dbt command in this process with the build database set to `build_db`.

    `manifest` (from `parse`, same vars) skips dbt's parse. dbt's artifacts of the command
    (run_results.json, sources.json) are copied to `artifacts_dir`.
    """
    from dbt.cli.main import dbtRunner

    args = _args(command, project_dir, build_db, target_dir, log_dir, dbt_vars)
    name = " ".join(command)
    for artifact in ("run_results.json", "sources.json"):  # never copy a previous command's file
        (target_dir / artifact).unlink(missing_ok=True)
    logger.info("dbt %s on %s", name, build_db)
    try:
        result = dbtRunner(manifest=manifest).invoke(args)
    finally:
        _close_duckdb()
    outcome = DbtOutcome(command=name, success=bool(result.success))
    if result.exception is not None:
        outcome.exception = str(result.exception)
        outcome.success = False
    results = getattr(result.result, "results", None) or []
    for node_result in results:
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
        if status in _FAILED_STATUSES:
            node = getattr(node_result, "node", None)
            outcome.failures.append(
                {
                    "unique_id": getattr(node, "unique_id", "?"),
                    "status": status,
                    "message": str(getattr(node_result, "message", "") or "")[:500],
                }
            )
    if artifacts_dir is not None:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        for artifact in ("run_results.json", "sources.json"):
            src = target_dir / artifact
            if src.exists():
                stem = {"source": "freshness", "test": "unit_test"}.get(command[0], command[0])
                shutil.copy2(src, artifacts_dir / f"{stem}_{artifact}")
    logger.info("dbt %s: success=%s %s", name, outcome.success, outcome.counts)
    return outcome
