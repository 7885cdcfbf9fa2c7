"""Connectors: pull from the systems a company runs and write the file drop (CONTRACT 1a).

A connector lives in `pipelines/connectors/<name>.py` and exposes

    pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict

returning at least `{"source", "files", "records", "api_calls", "unknown_fields"}`. It writes the
files every connector lands in (Stripe: `billing/*.jsonl`; HubSpot: `crm/*.csv` and
`product/account_memberships*.csv`); the file loader (`pipelines/load.py`) then lands them, so
quarantine, rejections, reconciliation and idempotency are the file drop's. `files` is the drop as
it is: nothing is pulled. docs/CONNECTORS.md documents each connector.

Configuration follows dlt's resolution: environment variables `SOURCES__<NAME>__<KEY>` first, then
`.dlt/secrets.toml` (`[sources.<name>] key = ...`, never committed) and `.dlt/config.toml`.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# name -> "module:function" of its pull (imported only when the connector runs); None: no pull
CONNECTORS: dict[str, str | None] = {
    "files": None,
    "stripe": "pipelines.connectors.stripe:pull",
    "hubspot": "pipelines.connectors.hubspot:pull",
    "amplitude": "pipelines.connectors.amplitude:pull",
    "mixpanel": "pipelines.connectors.mixpanel:pull",
    "posthog": "pipelines.connectors.posthog:pull",
}
DEFAULT_SOURCES = ("files",)

# credential names a connector may read (from dlt.secrets), and dlt's HTTP retry settings, which a
# `[sources.<name>]` value overrides for that connector only
SECRET_KEYS = ("api_key", "access_token", "api_secret", "secret_key", "project_api_key", "personal_api_key")
RETRY_KEYS = ("request_max_attempts", "request_backoff_factor", "request_max_retry_delay", "request_timeout")


class ConnectorError(RuntimeError):
    """A pull that cannot complete: a refused credential, a server that keeps failing, a page
    that is not JSON. Nothing of the pull is written to the drop when it is raised."""


def parse_sources(values: Iterable[str] | None) -> list[str]:
    """Connector names from repeated and/or comma-separated `--source` values, in order, once
    each; `files` when none. Raises ValueError naming an unknown connector."""
    names: list[str] = []
    for value in values or ():
        for name in str(value).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in CONNECTORS:
                known = ", ".join(CONNECTORS)
                raise ValueError(f"unknown source {name!r} (expected one or more of: {known})")
            if name not in names:
                names.append(name)
    return names or list(DEFAULT_SOURCES)


def pull_function(name: str) -> Callable[..., dict] | None:
    """The connector's pull function (imported now), or None for `files`."""
    target = CONNECTORS[name]
    if target is None:
        return None
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConnectorError(f"{name}: the connector is not installed ({module_name})") from exc
        raise
    return getattr(module, function)


def connector_config(name: str, keys: Iterable[str] = ()) -> dict[str, Any]:
    """The connector's settings as dlt resolves them (environment `SOURCES__<NAME>__<KEY>`,
    .dlt/secrets.toml, .dlt/config.toml): every key of a `[sources.<name>]` table, and each of
    `keys` (environment variables cannot be listed, so a connector names the keys it reads)."""
    import dlt

    config: dict[str, Any] = {}
    # each named key through dlt's own order (environment first, then the toml files); a secret may
    # sit in config.toml and a setting in secrets.toml, so both are asked, secrets first
    for key in (*SECRET_KEYS, *keys, *RETRY_KEYS):
        value = dlt.secrets.get(f"sources.{name}.{key}")
        if value is None:
            value = dlt.config.get(f"sources.{name}.{key}")
        if value is None and key in RETRY_KEYS:
            value = dlt.config.get(f"runtime.{key}")  # dlt's own HTTP settings apply to every source
        if value is not None:
            config[key] = value
    # then any other key of a [sources.<name>] table
    for accessor in (dlt.config, dlt.secrets):
        try:
            section = accessor.get(f"sources.{name}")
        except Exception as error:  # an unreadable toml file is reported, not fatal here
            log.debug("sources.%s not readable: %s", name, error)
            section = None
        if isinstance(section, dict):
            for key, value in section.items():
                config.setdefault(str(key).lower(), value)
    return config


def state_dir_for(runs_dir: Path) -> Path:
    """Where connectors keep their cursors: beside the warehouse's runs, not in the home folder."""
    return runs_dir / ".connectors"


def pull_all(
    names: Iterable[str],
    source_dir: Path,
    state_dir: Path,
    progress: bool = True,
    configs: dict[str, dict] | None = None,
) -> list[dict]:
    """Run the pull of each named connector (skipping `files`) into `source_dir`, in order.

    Returns one result per connector that pulled, with `seconds` added. Raises ConnectorError on
    the first failure: the drop keeps what earlier connectors wrote, the failing one wrote nothing."""
    results = []
    source_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        function = pull_function(name)
        if function is None:
            continue
        config = (configs or {}).get(name)
        if config is None:
            keys = getattr(sys.modules[function.__module__], "CONFIG_KEYS", ())
            config = connector_config(name, keys)
        started = time.monotonic()
        log.info("%s: pulling into %s", name, source_dir)
        result = function(source_dir, state_dir=state_dir / name, config=config, progress=progress)
        result["seconds"] = round(time.monotonic() - started, 2)
        log.info(
            "%s: %d record(s) in %d API call(s), %d file(s) written",
            name,
            sum(result.get("records", {}).values()),
            result.get("api_calls", 0),
            len(result.get("files", [])),
        )
        results.append(result)
    return results


def describe(results: list[dict]) -> list[str]:
    """Summary lines of pulls: records per table, API calls, unknown fields, skipped records."""
    lines: list[str] = []
    for result in results:
        name = result.get("source", "?")
        mode = f", {result['mode']}" if result.get("mode") else ""
        lines.append(f"  {name}: {result.get('api_calls', 0):,} API call(s){mode}")
        for table, count in sorted(result.get("records", {}).items()):
            lines.append(f"    {table:42} {count:>10,}")
        for reason, count in sorted(result.get("skipped", {}).items()):
            lines.append(f"    not written: {reason:29} {count:>10,}")
        unknown = result.get("unknown_fields") or {}
        for object_type, fields in sorted(unknown.items()):
            lines.append(f"    unknown fields of {object_type} (landed): {', '.join(sorted(fields))}")
    return lines
