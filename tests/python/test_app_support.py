"""Shared setup of the app tests: one small, real warehouse per pytest session (shared by its workers).

The warehouse is built the way a run builds it: the demo generator writes a file drop, dlt lands it,
``dbt build`` (seeds, models and data tests; the unit tests run in test_dbt_unit_tests.py) builds
every layer in an isolated target folder, and the run log is written by the CLI's own code. The app
then reads it read-only, as it reads a published warehouse. Nothing is mocked.

Set ``APP_TEST_WAREHOUSE`` to an existing published file to skip the build (faster iteration).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import duckdb
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}
for _key, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_key, _value)

# The demo company of the app tests: small enough to build in well under a minute.
DEMO_ACCOUNTS = 40
DEMO_DAYS = 150
DEMO_SEED = 7
DEMO_END_DATE = "2026-11-20"  # fixed, so the demo company is the same on every day

# The hostile strings every input-taking data function receives in test_app_data.py.
HOSTILE_STRINGS = [
    "acc_00001' or '1'='1",
    "'; drop table marts.dim_accounts; --",
    "x') union all select * from information_schema.tables --",
    '" or 1=1 --',
    "acc_00001; delete from marts.dim_accounts",
    "%' or account_id like '%",
    "\\'; select 1; --",
    "Robert'); DROP TABLE students;--",
    "",
    "\x00",
]


def _build(workdir: Path) -> Path:
    """Generates, lands and builds the demo company into ``workdir``; returns the warehouse file."""
    from pipelines import demo, load

    source_dir = workdir / "landing"
    warehouse = workdir / "health.duckdb"
    demo.generate(
        source_dir,
        accounts=DEMO_ACCOUNTS,
        days=DEMO_DAYS,
        seed=DEMO_SEED,
        end_date=DEMO_END_DATE,
        progress=False,
    )
    load.load_drop(source_dir, warehouse, progress=False, pipelines_dir=str(workdir / "dlt"))
    env = {
        **os.environ,
        **TELEMETRY_OFF,
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "ACCOUNT_HEALTH_BUILD_DB": str(warehouse),
        "ACCOUNT_HEALTH_TARGET": "duckdb",
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }
    # the unit tests run in test_dbt_unit_tests.py; here they would only add half a minute
    build = _dbt(["build", "--exclude-resource-type", "unit_test"], env)
    if build.returncode != 0:
        # Another engineer's failing test must not hide what the app shows: the app tests need
        # the marts, not a green build. Build the models without their tests and say so loudly.
        warnings.warn(
            "dbt build of the app-test warehouse failed; falling back to dbt seed + run:\n"
            + "\n".join(line for line in build.stdout.splitlines() if "ERROR" in line or "Failure" in line)[
                -3000:
            ],
            stacklevel=2,
        )
        for command in (["seed"], ["run"]):
            result = _dbt(command, env)
            if result.returncode != 0:
                raise RuntimeError(
                    f"dbt {command[0]} of the app-test warehouse failed:\n{result.stdout[-6000:]}"
                )
    _write_run_log(warehouse, source_dir)
    return warehouse


def _dbt(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "dbt"), *command, "--no-use-colors"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _write_run_log(warehouse: Path, source_dir: Path) -> None:
    """Writes one published run into quality.run_log with the CLI's own run-log code."""
    from pipelines import runlog

    record = runlog.RunRecord(
        run_id=runlog.new_run_id(), command="run", source_dir=str(source_dir), warehouse=str(warehouse)
    )
    record.finish("published")
    connection = duckdb.connect(str(warehouse))
    try:
        runlog.write_run_log_table(connection, [record.as_json()])
        connection.execute("checkpoint")
    finally:
        connection.close()


_BUILT: dict[str, Path | BaseException] = {}


def _build_once_per_session() -> Path:
    """Builds the warehouse once for every pytest-xdist worker of this session (they share the run
    id): the first worker builds under a file lock, the others wait and read the same file (every
    reader opens it read-only). Without xdist, once per process."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        return _build(Path(tempfile.mkdtemp(prefix="app-test-")))
    workdir = Path(tempfile.gettempdir()) / f"app-test-{run_id}"
    workdir.mkdir(exist_ok=True)
    with (workdir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built, failed = workdir / "built", workdir / "failed"
        if failed.exists():
            raise RuntimeError(f"another worker could not build the app-test warehouse: {failed.read_text()}")
        if not built.exists():
            try:
                _build(workdir)
            except BaseException as error:
                failed.write_text(repr(error))
                raise
            built.touch()
    return workdir / "health.duckdb"


def demo_warehouse() -> Path:
    """The session's published demo warehouse (built once; a failed build is not retried)."""
    existing = os.environ.get("APP_TEST_WAREHOUSE")
    if existing:
        return Path(existing)
    if "warehouse" not in _BUILT:
        try:
            _BUILT["warehouse"] = _build_once_per_session()
        except BaseException as error:
            _BUILT["warehouse"] = error
    built = _BUILT["warehouse"]
    if isinstance(built, BaseException):
        raise RuntimeError("the app-test warehouse could not be built (see the first error)") from built
    return built


def copy_warehouse(target: Path) -> Path:
    """A private copy of the demo warehouse (for tests that replace or alter the file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(demo_warehouse(), target)
    return target


def query(sql: str, params: list | None = None, warehouse: Path | None = None) -> pd.DataFrame:
    """Reads the demo warehouse directly (the tests' independent view of the marts)."""
    connection = duckdb.connect(str(warehouse or demo_warehouse()), read_only=True)
    try:
        return connection.execute(sql, params or []).df()
    finally:
        connection.close()


def tables(warehouse: Path | None = None) -> set[str]:
    frame = query(
        "select table_schema || '.' || table_name as name from information_schema.tables",
        warehouse=warehouse,
    )
    return set(frame["name"])


def require(*names: str) -> None:
    """Skips the calling test when the demo build has not published one of ``names`` yet.

    The marts are built in parallel with the app; a skip names what is missing instead of failing
    on someone else's unfinished model. Once every mart exists nothing here skips.
    """
    import pytest

    missing = sorted(set(names) - tables())
    if missing:
        pytest.skip(f"not in the demo build yet: {', '.join(missing)}")
