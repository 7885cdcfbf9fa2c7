"""Shared pytest fixtures. Keep this file small and generic; area-specific fixtures live in the tests.

`postgres_server`: a real local PostgreSQL server (scripts/postgres.sh) for tests marked `postgres`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# dbt.log at info, not debug, for every dbt the tests start (in-process or a subprocess inheriting
# this environment): the debug lines of ~750 nodes cost 7-9 % of a build, and no test reads them.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"


def _postgres_script(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), command], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """The PG* connection variables of a running local PostgreSQL server, with its database created.

    Reuses a server already started by `make test-postgres` (or any caller of scripts/postgres.sh
    with the same ACCOUNT_HEALTH_PG_* settings) and leaves it running; otherwise starts one for the
    session and stops it (deleting its data folder) at the end. Tests get the variables to pass to
    dbt/dlt subprocesses; `os.environ` is not changed.
    """
    already_running = _postgres_script("status").returncode == 0
    if not already_running:
        started = _postgres_script("start")
        if started.returncode != 0:
            pytest.fail(f"scripts/postgres.sh start failed:\n{started.stdout}\n{started.stderr}")
    env_lines = _postgres_script("env").stdout.splitlines()
    pg_env = {}
    for line in env_lines:
        key, _, value = line.removeprefix("export ").partition("=")
        pg_env[key] = value
    try:
        yield pg_env
    finally:
        if not already_running:
            _postgres_script("stop")


# The longest modules first, longest first (their seconds in the last profile, benchmarks/results/
# NOTES.md): with --dist loadfile a long module taken last would run alone at the end. `make test`
# passes --no-loadscope-reorder, or xdist would order the modules by their number of tests.
SLOW_MODULES_FIRST = (
    "test_spark_smoke.py",
    "test_portability_postgres.py",
    "test_cli_inputs.py",
    "test_bench_smoke.py",
    "test_cli_wap.py",
    "test_deliveries_incremental.py",
    "test_example_ravenstack.py",
    "test_load_bad_input.py",
    "test_app_pages.py",
    "test_cli_demo_company.py",
    "test_stripe_shapes.py",
    "test_identity_incremental.py",
    "test_score_separation.py",
    "test_health_incremental.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: index for index, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
