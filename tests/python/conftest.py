"""Shared pytest fixtures. Keep this file small and generic; area-specific fixtures live in the tests.

`postgres_server`: a real local PostgreSQL server (scripts/postgres.sh) for tests marked `postgres`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
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


# The modules that take minutes (a Spark build, a PostgreSQL build, the benchmark ladder, full demo
# runs) start first: with --dist loadfile a long module collected last would run alone at the end.
SLOW_MODULES_FIRST = (
    "test_spark_smoke.py",
    "test_portability_postgres.py",
    "test_bench_smoke.py",
    "test_score_separation.py",
    "test_example_ravenstack.py",
    "test_cli_inputs.py",
    "test_health_incremental.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: index for index, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
