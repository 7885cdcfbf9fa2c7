"""What the API connectors share: dlt's REST client with retries, call counting and progress,
errors that name what to fix, state files and atomic writes.

HTTP goes through dlt's `rest_api` source and `RESTClient`, on a dlt `requests` session: 429 and
5xx are retried with exponential backoff, a `Retry-After` header sets the wait (capped by
`request_max_retry_delay`), connection errors are retried too. `request_max_attempts`,
`request_backoff_factor`, `request_max_retry_delay` and `request_timeout` come from the
connector's config (`sources.<name>.*`) or dlt's `runtime.*` settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from pipelines.connectors import ConnectorError

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


class CountingAdapter(HTTPAdapter):
    """Counts every HTTP attempt (retries included: each one costs an API call) and logs it as
    progress, so a long pull shows where it is."""

    def __init__(self, source: str, progress: bool) -> None:
        super().__init__()
        self.source = source
        self.level = logging.INFO if progress else logging.DEBUG
        self.calls = 0

    def send(self, request, *args, **kwargs):  # noqa: ANN001, ANN201 (requests' signature)
        self.calls += 1
        response = super().send(request, *args, **kwargs)
        path = urlsplit(request.url).path
        log.log(
            self.level,
            "%s: call %d %s %s -> %s",
            self.source,
            self.calls,
            request.method,
            path,
            response.status_code,
        )
        return response


def http_session(
    source: str, config: dict[str, Any], progress: bool
) -> tuple[requests.Session, CountingAdapter]:
    """A dlt requests session with the retry settings of `config`, counting its calls."""
    from dlt.sources.helpers.requests.retry import Client

    client = Client(
        raise_for_status=False,
        request_timeout=float(config.get("request_timeout", 60)),
        request_max_attempts=int(config.get("request_max_attempts", 5)),
        request_backoff_factor=float(config.get("request_backoff_factor", 1.0)),
        request_max_retry_delay=float(config.get("request_max_retry_delay", 300)),
        respect_retry_after_header=True,
    )
    session = client.session
    adapter = CountingAdapter(source, progress)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


def require(config: dict[str, Any], key: str, source: str) -> str:
    """A configured secret or setting, or a ConnectorError naming where to set it."""
    value = config.get(key)
    if value in (None, ""):
        raise ConnectorError(
            f"{source}: no {key} configured: set {credential_name(source, key)} or "
            f"[sources.{source}] {key} in .dlt/secrets.toml"
        )
    return str(value)


def flag(value: Any) -> bool:
    """A boolean setting, also as an environment variable's text (`true`, `1`, `yes`)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def credential_name(source: str, key: str) -> str:
    return f"SOURCES__{source.upper()}__{key.upper()}"


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def translate(error: BaseException, source: str, what: str, credential_key: str) -> ConnectorError:
    """A ConnectorError that says what failed and what to do, from whatever dlt or requests raised
    (dlt wraps errors of a resource in its own exceptions: the cause chain is searched)."""
    for cause in _causes(error):
        if isinstance(cause, ConnectorError):
            return cause
        if isinstance(cause, requests.HTTPError) and cause.response is not None:
            status = cause.response.status_code
            path = urlsplit(cause.response.url or "").path
            if status in (401, 403):
                return ConnectorError(
                    f"{source}: the API refused the credential (HTTP {status} on {path}) while pulling "
                    f"{what}: check {credential_name(source, credential_key)} "
                    f"([sources.{source}] {credential_key} in .dlt/secrets.toml)"
                )
            retried = " after retries" if status == 429 or status >= 500 else ""
            return ConnectorError(f"{source}: HTTP {status} on {path}{retried} while pulling {what}")
        if isinstance(cause, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
            return ConnectorError(
                f"{source}: a page of {what} is not valid JSON (truncated response?): {cause}; "
                "nothing was written, run the pull again"
            )
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            return ConnectorError(f"{source}: cannot reach the API while pulling {what}: {cause}")
    return ConnectorError(f"{source}: pulling {what} failed: {type(error).__name__}: {error}")


def collect(items: Iterable[Any], source: str, what: str, credential_key: str) -> list[dict]:
    """Every item of a dlt resource (or any iterable of pages or items) as a list of dicts."""
    out: list[dict] = []
    try:
        for item in items:
            if isinstance(item, list):
                out.extend(i for i in item if isinstance(i, dict))
            elif isinstance(item, dict):
                out.append(item)
    except Exception as error:
        raise translate(error, source, what, credential_key) from error
    return out


def load_state(state_dir: Path) -> dict[str, Any]:
    path = state_dir / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("%s is unreadable (%s): the next pull is a full pull", path, error)
        return {}


def save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / STATE_FILE, json.dumps(state, indent=2, sort_keys=True).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temporary file and a rename (a reader never sees half a
    file); False, and nothing written, when the file already holds exactly these bytes (its hash,
    so the loader's bookkeeping, stays the same)."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_intact(source_dir: Path, written: dict[str, str]) -> bool:
    """Whether every file a previous pull wrote is still there, unchanged (else pull in full)."""
    return all(sha256(source_dir / relative) == digest for relative, digest in written.items())
