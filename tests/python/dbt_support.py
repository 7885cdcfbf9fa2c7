"""What the pytest files share for running dbt on a scratch warehouse."""

from __future__ import annotations

from pathlib import Path

from pipelines.dbt_runner import invoke

REPO_ROOT = Path(__file__).resolve().parents[2]


def dbt_build(tmp: Path, db: Path, *args: str) -> None:
    """`dbt build ARGS` into `db`, with dbt's target and logs under `tmp`; fails the test when dbt does."""
    outcome = invoke(
        ["build", *args],
        project_dir=REPO_ROOT,
        build_db=db,
        target_dir=tmp / "target",
        log_dir=tmp / "logs",
    )
    assert outcome.success, outcome.describe()
