"""Paths and run settings of the `account-health` CLI, in one place.

Every setting has a working default and an environment variable, so `make run`, the CLI and the
tests agree without flags. Business settings (weights, thresholds of the health score) are not here:
they live in `dbt_project.yml` vars and seeds, where dbt tests them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The repository root: the folder holding dbt_project.yml and profiles.yml.
REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SOURCE_DIR = "data/landing"
DEFAULT_WAREHOUSE = "warehouse/health.duckdb"

# Telemetry off for dbt, dlt, great-expectations and Streamlit: the warehouse runs offline.
TELEMETRY_ENV = {
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


def disable_telemetry() -> None:
    """Switch every tool's telemetry off for this process and its children.

    Must run before dbt, dlt or great_expectations are imported: some read the variables at import.
    """
    for key, value in TELEMETRY_ENV.items():
        os.environ[key] = value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Where a run reads and writes, and the limits its audit enforces.

    The candidate, the previous published file, the lock and the run folders all sit next to the
    published warehouse, on the same file system, so that publishing is one atomic `os.replace`.
    """

    source_dir: Path
    warehouse: Path
    project_dir: Path = REPO_ROOT
    # A run fails before publishing when rejected records exceed this share of landed rows.
    max_rejected_share: float = 0.05
    # Row counts of marts must stay within [previous * min_ratio, previous * max_ratio + slack].
    rowcount_min_ratio: float = 0.5
    rowcount_max_ratio: float = 3.0
    rowcount_slack: int = 100
    # The embedded demo company generated when the source folder holds no data.
    demo_accounts: int = 400
    demo_days: int = 365
    demo_seed: int = 42
    as_of: str | None = None
    # Rebuild incremental models from scratch (dbt --full-refresh) instead of replacing new days.
    full_refresh: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)

    # --- derived paths -------------------------------------------------------------------------
    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def candidate(self) -> Path:
        """The file a run writes, loads and builds into; never read by the app or BI."""
        return self.warehouse.with_name(self.warehouse.stem + ".candidate" + self.warehouse.suffix)

    @property
    def candidate_state(self) -> Path:
        """JSON sidecar saying which steps the current candidate passed (load, build)."""
        return self.candidate.with_name(self.candidate.name + ".state.json")

    @property
    def previous(self) -> Path:
        """The file that was published before the current one; `rollback` swaps it back."""
        return self.warehouse.with_name(self.warehouse.stem + ".previous" + self.warehouse.suffix)

    @property
    def lock_file(self) -> Path:
        return self.warehouse.with_name(self.warehouse.name + ".lock")

    @property
    def runs_dir(self) -> Path:
        """Per-run artifacts (dbt run_results.json, dlt load info, GX results) and the run log."""
        return self.warehouse_dir / "runs"

    @property
    def run_log_file(self) -> Path:
        return self.runs_dir / "run_log.jsonl"

    @property
    def data_docs_dir(self) -> Path:
        """great-expectations HTML Data Docs of the latest audit, beside the warehouse."""
        return self.warehouse_dir / "data_docs"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target folder for CLI runs; shared by runs (under the lock) for partial parsing."""
        return self.runs_dir / ".dbt_target"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id


def load_settings(
    source_dir: str | os.PathLike | None = None,
    warehouse: str | os.PathLike | None = None,
    **overrides,
) -> Settings:
    """Settings from arguments, then environment variables, then defaults.

    Relative paths are taken from the current directory (as a user typing them expects) and made
    absolute, because dbt runs with the project folder as its root.
    """
    source = source_dir or os.environ.get("ACCOUNT_HEALTH_SOURCE_DIR") or DEFAULT_SOURCE_DIR
    wh = warehouse or os.environ.get("ACCOUNT_HEALTH_WAREHOUSE") or DEFAULT_WAREHOUSE
    project = os.environ.get("ACCOUNT_HEALTH_PROJECT_DIR") or REPO_ROOT
    values = {
        "source_dir": Path(source).expanduser().resolve(),
        "warehouse": Path(wh).expanduser().resolve(),
        "project_dir": Path(project).expanduser().resolve(),
        "max_rejected_share": _env_float("ACCOUNT_HEALTH_MAX_REJECTED_SHARE", 0.05),
        "rowcount_min_ratio": _env_float("ACCOUNT_HEALTH_ROWCOUNT_MIN_RATIO", 0.5),
        "rowcount_max_ratio": _env_float("ACCOUNT_HEALTH_ROWCOUNT_MAX_RATIO", 3.0),
        "rowcount_slack": _env_int("ACCOUNT_HEALTH_ROWCOUNT_SLACK", 100),
        "demo_accounts": _env_int("ACCOUNT_HEALTH_DEMO_ACCOUNTS", 400),
        "demo_days": _env_int("ACCOUNT_HEALTH_DEMO_DAYS", 365),
        "demo_seed": _env_int("ACCOUNT_HEALTH_DEMO_SEED", 42),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


# `account-health features --write`: when the renewal history is enough to weigh key features by
# renewal lift, and how many are proposed (docs/FEATURES.md explains each rule).
@dataclass(frozen=True)
class FeatureProposalRules:
    # lift is used only with this many decided renewals, this many of them churned ...
    min_decided_renewals: int = 30
    min_churned: int = 10
    # ... and for an event used by, and not used by, at least this many of those accounts
    min_group_accounts: int = 10
    # candidates: events used by at least this share of the accounts, and not by nearly all of them
    # (by lift: of the accounts before their renewal): an event every account sends, such as a
    # login, tells no account apart; its lift only says that active accounts renew
    min_account_share: float = 0.05
    max_account_share: float = 0.95
    max_features: int = 6
    # a lift counts only when it is this many standard errors from 0 (two-proportion z-test, 1.96:
    # 95% two-sided): with a few dozen users per event, lifts of 5-10 points are mostly noise
    min_lift_z: float = 1.96
