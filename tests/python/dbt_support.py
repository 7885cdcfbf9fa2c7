"""What the pytest files share for running dbt on a scratch warehouse, and the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.dbt_runner import invoke, parse

# Parsed manifests of this process, by what a parse depends on. dbt's partial parsing cannot help
# here: every test builds into its own file, and a new path in the profile forces a full parse
# (~7 s). The CLI reuses one manifest across its commands the same way (pipelines/dbt_runner.py).
_MANIFESTS: dict[tuple, object] = {}
# environment variables the project reads while parsing (dbt_project.yml, models)
_PARSE_ENV = ("ACCOUNT_HEALTH_INTERMEDIATE_AS_TABLES", "ACCOUNT_HEALTH_TARGET")

REPO_ROOT = Path(__file__).resolve().parents[2]
SPARK_VENV = Path(os.environ.get("SPARK_VENV", REPO_ROOT / ".venv-spark"))


def cli_env() -> dict[str, str]:
    """The environment of an `account-health` subprocess: this repository's code, telemetry off, and
    none of the caller's ACCOUNT_HEALTH_* paths (a test names its own folders)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACCOUNT_HEALTH_")}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "DO_NOT_TRACK": "1",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    return env


def dbt_build(tmp: Path, db: Path, *args: str) -> None:
    """`dbt build ARGS` into `db`, with dbt's target and logs under `tmp`; fails the test when dbt does."""
    dbt_command(tmp, db, "build", *args)


def parsed_manifest(tmp: Path, db: Path, args: tuple[str, ...] | list[str]) -> object | None:
    """The project parsed once per process for `db`'s database name (dbt-duckdb names it after the
    file's stem, and every node carries it), the `--vars` of `args` and the parse-time environment."""
    dbt_vars = None
    if "--vars" in args:
        dbt_vars = yaml.safe_load(args[list(args).index("--vars") + 1])
    key = (db.stem, json.dumps(dbt_vars, sort_keys=True), *(os.environ.get(name) for name in _PARSE_ENV))
    if key not in _MANIFESTS:
        manifest = parse(
            project_dir=REPO_ROOT,
            build_db=db,
            target_dir=tmp / "target",
            log_dir=tmp / "logs",
            dbt_vars=dbt_vars,
        )
        if manifest is None:  # let the command parse and report the error itself
            return None
        _MANIFESTS[key] = manifest
    return _MANIFESTS[key]


def dbt_command(tmp: Path, db: Path, command: str, *args: str) -> None:
    """`dbt COMMAND ARGS` into `db`, with dbt's target and logs under `tmp`; fails the test when dbt does."""
    outcome = invoke(
        [command, *args],
        project_dir=REPO_ROOT,
        build_db=db,
        target_dir=tmp / "target",
        log_dir=tmp / "logs",
        manifest=parsed_manifest(tmp, db, args),
    )
    assert outcome.success, outcome.describe()


def dbt_statuses(tmp: Path, db: Path, label: str, *command: str) -> dict[str, str]:
    """dbt `command` on `db`, artifacts under `tmp/artifacts/label`; {test or model name: status}
    from its run_results (a failing test is a status here, not a failed pytest)."""
    artifacts = tmp / "artifacts" / label
    artifacts.mkdir(parents=True)
    invoke(
        list(command),
        project_dir=REPO_ROOT,
        build_db=db,
        target_dir=tmp / "target",
        log_dir=artifacts,
        artifacts_dir=artifacts,
        manifest=parsed_manifest(tmp, db, command),
    )
    stem = {"test": "unit_test"}.get(command[0], command[0])  # pipelines.dbt_runner's file names
    results = json.loads((artifacts / f"{stem}_run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results}


def built_rows(db: Path, relation: str, order_by: str) -> pd.DataFrame:
    """Every row of `relation` in `db`, sorted by `order_by`, without `_built_at`: when the run that
    wrote a row started (macros/tests/rewritten_rows.sql), which differs between an incremental run
    and a full refresh of the same data."""
    with duckdb.connect(str(db), read_only=True) as con:
        frame = con.sql(f"select * exclude (_built_at) from {relation} order by {order_by}").df()
    return frame.reset_index(drop=True)


def ensure_spark_venv() -> Path:
    """SPARK_VENV, created from requirements-spark.lock when missing (scripts/spark/venv.sh: a few
    minutes, once per machine); skips the calling test when Java is absent."""
    if shutil.which("java") is None:
        pytest.skip("Java is absent: the Spark path needs Java 17 (openjdk-17-jre-headless)")
    venv = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "spark" / "venv.sh")],
        env={**cli_env(), "SPARK_VENV": str(SPARK_VENV)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert venv.returncode == 0, f"creating {SPARK_VENV} failed:\n{venv.stdout}\n{venv.stderr}"
    return SPARK_VENV
