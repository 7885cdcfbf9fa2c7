"""The `pull` step of `account-health load|run --source ...`: connectors write the drop, then the
usual steps (inputs, load, build, ...) run on it. Kept out of cli.py so the CLI only wires it in."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.connectors import ConnectorError, describe, parse_sources, pull_all, state_dir_for

log = logging.getLogger(__name__)


def sources_of(settings: Any) -> list[str]:
    """The connectors a run pulls from (`files`, the drop as it is, by default)."""
    return parse_sources((settings.extra or {}).get("sources"))


def pulls(settings: Any) -> bool:
    """Whether the run pulls from any API (then it never generates the demo company)."""
    return any(name != "files" for name in sources_of(settings))


def step_pull(settings: Any, record: Any) -> None:
    """Run every requested connector into the source folder; a failure stops the run before the
    inputs are checked, so nothing is loaded, built or published."""
    from pipelines import publish as wap

    names = sources_of(settings)
    try:
        record.pulled = pull_all(
            names, settings.source_dir, state_dir_for(settings.runs_dir), settings.progress
        )
    except ConnectorError as exc:
        raise wap.PublishError("pull", str(exc)) from exc


def summary_lines(record: Any) -> list[str]:
    pulled = getattr(record, "pulled", None) or []
    if not pulled:
        return []
    return ["pulled (records from each API; unknown fields land as new columns):", *describe(pulled)]
