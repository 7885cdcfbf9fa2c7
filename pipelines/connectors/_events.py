"""Shared machinery of the product-analytics export connectors (Amplitude, Mixpanel, PostHog).

Each connector pulls its tool's export over HTTP, maps every exported event to a CONTRACT 1a
Segment message and writes them as `product/events/<tool>-<window>.jsonl.gz` files in the drop; the
file loader (pipelines/load.py) lands those like any other event file, so identity resolution,
quarantine and idempotency are the loader's.

What lives here:
- `Http`: GET (and form POST) with explicit retries (429 honours Retry-After, 5xx and dropped
  connections back off exponentially), a clear error naming the credential on 401/403, and a
  count of every request.
- `setting`: a connector setting from the caller's config, else dlt config/secrets (environment
  variables such as SOURCES__AMPLITUDE__API_KEY or .dlt/secrets.toml), else a default.
- `ExportWriter`: stages one gzipped JSON-lines file per pulled window and publishes them all
  with `os.replace` only when the whole pull succeeded, skipping messages an earlier file of the
  same tool already holds (an overlapping re-fetch writes nothing twice).
- `PullState`: the last exported time per tool, a small JSON file written atomically.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from pipelines.connectors._common import credential_name, write_atomic

log = logging.getLogger(__name__)

EVENTS_FOLDER = "product/events"
ALREADY_WRITTEN = "already in the drop"
_MISSING = object()


try:  # the connector registry's error, when the package has one: the CLI reports every pull's alike
    from pipelines.connectors import ConnectorError as _RegistryError
except ImportError:
    _RegistryError = RuntimeError


class ConnectorError(_RegistryError):
    """A pull that cannot complete; nothing of it was published to the drop."""


class CredentialError(ConnectorError):
    """The tool refused (or was not given) the credentials."""


# ------------------------------------------------------------------------------------ settings
def setting(tool: str, config: dict, key: str, default: Any = _MISSING, *, secret: bool = False) -> Any:
    """`config[key]`, else dlt's `sources.<tool>.<key>` (env SOURCES__<TOOL>__<KEY>, .dlt/*.toml),
    else `default`. A required setting without a value raises, naming where to put it."""
    if config.get(key) not in (None, ""):
        return config[key]
    import dlt  # imported here: dlt reads its configuration at import time

    accessor = dlt.secrets if secret else dlt.config
    try:
        value = accessor.get(f"sources.{tool}.{key}")
    except Exception:  # an unreadable or absent .dlt folder is the same as no value
        value = None
    if value not in (None, ""):
        return value
    if default is _MISSING:
        where = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
        error = CredentialError if secret else ConnectorError
        raise error(
            f"{tool}: {key} is not set: set SOURCES__{tool.upper()}__{key.upper()} "
            f"or [sources.{tool}] {key} in {where}"
        )
    return default


def credential_names(tool: str, *keys: str) -> str:
    return " and ".join(credential_name(tool, key) for key in keys)


# ------------------------------------------------------------------------------------ HTTP
def _dlt_retry(config: dict, key: str, offset: int, default: float) -> float:
    """dlt's own HTTP setting (`request_max_attempts`, ... as the connector registry passes them)
    when the connector's own is not set; `offset` turns attempts into retries."""
    value = config.get(key)
    return default if value in (None, "") else float(value) + offset


@dataclass
class Http:
    """HTTP requests to one tool, with retries and a request count (`calls`).

    `backoff_seconds` doubles per retry of a 5xx or a dropped connection; a 429 waits what its
    Retry-After says (seconds or an HTTP date), capped at `max_wait_seconds`. Configurable so tests
    wait milliseconds."""

    tool: str
    credentials: str  # the names a 401 message points to
    auth: Any = None
    headers: dict = field(default_factory=dict)
    max_retries: int = 5
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 120.0
    timeout_seconds: float = 300.0
    calls: int = 0
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_config(cls, tool: str, config: dict, credentials: str, **kwargs: Any) -> Http:
        return cls(
            tool=tool,
            credentials=credentials,
            max_retries=int(
                setting(tool, config, "max_retries", _dlt_retry(config, "request_max_attempts", -1, 5))
            ),
            backoff_seconds=float(
                setting(tool, config, "backoff_seconds", _dlt_retry(config, "request_backoff_factor", 0, 2.0))
            ),
            max_wait_seconds=float(
                setting(
                    tool, config, "max_wait_seconds", _dlt_retry(config, "request_max_retry_delay", 0, 120.0)
                )
            ),
            timeout_seconds=float(
                setting(tool, config, "timeout_seconds", _dlt_retry(config, "request_timeout", 0, 300.0))
            ),
            **kwargs,
        )

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        wait: float | None = None
        if header:
            try:
                wait = float(header)
            except ValueError:
                when = email.utils.parsedate_to_datetime(header)
                if when is not None:
                    wait = (when - datetime.now(UTC)).total_seconds()
        if wait is None:
            wait = self.backoff_seconds * 2**attempt
        return min(max(wait, 0.0), self.max_wait_seconds)

    def get(self, url: str, params: dict | None = None) -> requests.Response:
        """The response of a GET that succeeded (2xx, or 404 which callers read as "no data")."""
        return self._request(url, params, None)

    def post(self, url: str, data: dict, params: dict | None = None) -> requests.Response:
        """The response of a form POST that succeeded (query APIs that take their filter as a form)."""
        return self._request(url, params, None, method="POST", data=data)

    def download(self, url: str, params: dict | None, target: Path) -> int:
        """Stream the body of a GET that succeeded into `target` (an export can be gigabytes);
        returns the status (2xx, or 404: no data, `target` not written)."""
        return self._request(url, params, target).status_code

    def _request(
        self,
        url: str,
        params: dict | None,
        target: Path | None,
        method: str = "GET",
        data: dict | None = None,
    ) -> requests.Response:
        last = ""
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    auth=self.auth,
                    headers=self.headers,
                    timeout=self.timeout_seconds,
                    stream=target is not None,
                )
                # read the whole body now: a connection cut mid-body is retried like a 5xx
                with response:
                    if target is not None and response.status_code < 300:
                        with open(target, "wb") as out:
                            for chunk in response.iter_content(1 << 20):
                                out.write(chunk)
                    else:
                        response.content  # noqa: B018
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # the body was cut short
                requests.exceptions.ContentDecodingError,
            ) as error:
                last = f"connection failed ({type(error).__name__})"
                wait = self.backoff_seconds * 2**attempt
            else:
                status = response.status_code
                if status < 300 or status == 404:
                    return response
                if status in (401, 403):
                    raise CredentialError(
                        f"{self.tool}: the server refused the credentials (HTTP {status}) at {url}: "
                        f"check {self.credentials}"
                    )
                if status == 429:
                    last = "HTTP 429 (rate limited)"
                    wait = self._retry_after(response, attempt)
                elif status >= 500:
                    last = f"HTTP {status}"
                    wait = self.backoff_seconds * 2**attempt
                else:
                    raise ConnectorError(
                        f"{self.tool}: HTTP {status} from {url} with {params}: {response.text[:300]}"
                    )
            if attempt < self.max_retries:
                log.warning(
                    "%s: %s, retry %d/%d in %.1fs", self.tool, last, attempt + 1, self.max_retries, wait
                )
                time.sleep(min(wait, self.max_wait_seconds))
        raise ConnectorError(
            f"{self.tool}: {url} failed after {self.max_retries + 1} attempts, the last with {last}; "
            "nothing was written, the next pull asks for the same window again"
        )


# ------------------------------------------------------------------------------------ time
def utc(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_utc(config: dict) -> datetime:
    """The pull's "now": `config["now"]` when given (tests, backfills), else the clock."""
    return utc(config.get("now")) or datetime.now(UTC)


def text_timestamp(value: Any) -> str | None:
    """An ISO 8601 UTC text of a timestamp the tools export: ISO text with or without an offset
    (no offset means UTC, as PostHog and Amplitude document), or epoch seconds / milliseconds.
    Text that is not a timestamp is passed on unchanged: staging rejects it, with the line."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value  # ms since epoch from 1973 on
        return iso(datetime.fromtimestamp(seconds, UTC))
    text = str(value).strip()
    if text.isdigit():  # epoch seconds or milliseconds sent as text
        return text_timestamp(int(text))
    try:
        return iso(utc(text.replace(" ", "T", 1)))
    except ValueError:
        return text


def windows(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into [a, b) windows of `step` (the last may be shorter)."""
    cursor = start
    while cursor < end:
        yield cursor, min(cursor + step, end)
        cursor += step


# ------------------------------------------------------------------------------------ state
class PullState:
    """The export state of one tool: `state_dir/<tool>.json`, replaced atomically."""

    def __init__(self, state_dir: Path, tool: str):
        self.path = Path(state_dir) / f"{tool}.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    @property
    def exported_until(self) -> datetime | None:
        return utc(self.data.get("exported_until"))

    def save(self, **values: Any) -> None:
        self.data.update(values)
        write_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True).encode("utf-8"))


def start_of_pull(
    state: PullState, config: dict, tool: str, now: datetime, overlap: timedelta, grain: timedelta
) -> datetime:
    """Where a pull starts: the last exported time minus the overlap (late data is fetched again;
    messages already written are skipped), or the configured `start_date` (default 30 days ago),
    floored to the tool's grain."""
    until = state.exported_until
    if until is not None:
        start = until - overlap
    else:
        configured = setting(tool, config, "start_date", None)
        start = utc(str(configured)) if configured else now - timedelta(days=30)
    return floor_to(start, grain)


def floor_to(value: datetime, grain: timedelta) -> datetime:
    """`value` floored to a multiple of `grain` since the epoch (an hour, a day: UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((value - epoch) // grain) * grain


# ------------------------------------------------------------------------------------ output
_NAME = re.compile(r"^(?P<tool>[a-z]+)-(?P<start>\d{8}T\d{4})-(?P<end>\d{8}T\d{4})(?:-\d+)?\.jsonl\.gz$")
_NAME_TIME = "%Y%m%dT%H%M"


def _line(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _identity(message: dict, line: str) -> str:
    """What makes a written message the same as another: its messageId, or for a message without
    one (the loader quarantines it) its whole line, so the overlap does not quarantine it twice."""
    message_id = message.get("messageId")
    return str(message_id) if message_id else "line:" + hashlib.sha256(line.encode()).hexdigest()


class ExportWriter:
    """The files of one pull: staged beside the events folder, published together by `publish`.

    A window's file is named `<tool>-<start>-<end>.jsonl.gz` (UTC, YYYYMMDDTHHMM, end exclusive).
    Messages whose messageId an earlier file of this tool already holds (files whose window touches
    the pull's, read once), or that this pull already wrote, are skipped and counted: the overlap
    re-fetched on each pull never becomes duplicate deliveries. gzip without a timestamp, so the
    same messages make byte-identical files."""

    def __init__(self, source_dir: Path, tool: str, start: datetime, end: datetime):
        self.tool = tool
        self.folder = Path(source_dir) / EVENTS_FOLDER
        self.source_dir = Path(source_dir)
        self.seen: set[str] = set()
        self.already_written = 0
        self.records: dict[str, int] = {}
        self._staged: list[tuple[Path, Path]] = []
        self._scratch = tempfile.TemporaryDirectory(prefix=f".{tool}-pull-", dir=self._scratch_parent())
        for path in self._earlier_files(start, end):
            try:
                self.seen.update(self._message_ids(path))
            except (OSError, EOFError, ValueError) as error:
                self.close()
                raise ConnectorError(
                    f"{tool}: {path} (written by an earlier pull) cannot be read ({error}): "
                    "move it out of the drop, or restore it, and pull again"
                ) from error

    def _scratch_parent(self) -> Path:
        # beside the events folder, on the same file system (os.replace), hidden from the loader
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def _earlier_files(self, start: datetime, end: datetime) -> list[Path]:
        found = []
        for path in sorted(self.folder.glob(f"{self.tool}-*.jsonl.gz")):
            match = _NAME.match(path.name)
            if not match:
                continue
            file_start = datetime.strptime(match["start"], _NAME_TIME).replace(tzinfo=UTC)
            file_end = datetime.strptime(match["end"], _NAME_TIME).replace(tzinfo=UTC)
            if file_start <= end and file_end >= start:
                found.append(path)
        return found

    @staticmethod
    def _message_ids(path: Path) -> Iterator[str]:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield _identity(json.loads(line), line.rstrip("\n"))

    def scratch_file(self, name: str) -> Path:
        """A path in this pull's scratch folder (removed with it), e.g. for a downloaded export."""
        return Path(self._scratch.name) / name

    def write_window(
        self, start: datetime, end: datetime, messages: Iterable[dict], kind: str = ""
    ) -> str | None:
        """Stage the new messages of one window; returns the file's relative path (None: nothing new).
        `kind` names messages that are not the window's events (`profiles`: `<tool>-profiles-...`)."""
        prefix = f"{self.tool}-{kind}" if kind else self.tool
        name = f"{prefix}-{start.strftime(_NAME_TIME)}-{end.strftime(_NAME_TIME)}"
        staged = Path(self._scratch.name) / f"{name}.jsonl.gz"
        count = 0
        # the buffer hands zlib about a megabyte at a time instead of one line
        with (
            open(staged, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
            io.BufferedWriter(zipped, buffer_size=1 << 20) as out,
        ):
            for message in messages:
                line = _line(message)
                identity = _identity(message, line)
                if identity in self.seen:
                    # written by an earlier pull (overlap) or delivered twice by the export
                    self.already_written += 1
                    continue
                self.seen.add(identity)
                out.write((line + "\n").encode("utf-8"))
                count += 1
        if count == 0:
            staged.unlink()
            return None
        target = self.folder / staged.name
        suffix = 1
        while target.exists() or any(t == target for _, t in self._staged):
            # the same window pulled again after its state was lost: a new file beside the old one
            target = self.folder / f"{name}-{suffix}.jsonl.gz"
            suffix += 1
        self._staged.append((staged, target))
        relative = target.relative_to(self.source_dir).as_posix()
        self.records[relative] = count
        return relative

    def publish(self) -> list[str]:
        """Move every staged file into the events folder (after the whole pull succeeded)."""
        published = []
        for staged, target in self._staged:
            os.replace(staged, target)
            published.append(target.relative_to(self.source_dir).as_posix())
        self._staged = []
        return published

    def close(self) -> None:
        self._scratch.cleanup()

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------ mapping
class UnknownFields:
    """Fields of the exported events that the mapping does not know, per object type."""

    def __init__(self) -> None:
        self.found: dict[str, set[str]] = {}

    def note(self, object_type: str, fields: Iterable[str]) -> None:
        fields = list(fields)
        if fields:
            self.found.setdefault(object_type, set()).update(fields)

    def report(self) -> dict[str, list[str]]:
        return {kind: sorted(fields) for kind, fields in sorted(self.found.items())}


def stable_id(tool: str, *parts: Any) -> str:
    """A messageId from the fields that identify an event when the tool gives no id of its own."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"{tool}:{digest}"


def parse_json_object(value: Any) -> Any:
    """Exports (and warehouse copies of them) send nested objects as dicts or as JSON text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def group_of(groups: Any, group_type: str | None) -> tuple[str | None, str | None]:
    """(account id, note) from a tool's groups object {group type: key or [keys]}.

    The configured group type, else `company`, else the only group type present. Several keys of
    that type (Amplitude allows an event in two companies) or several group types and none chosen
    leave the account unknown, with a note: identity resolution then uses memberships, group calls
    or the email domain (CONTRACT 2) rather than a guess."""
    if not isinstance(groups, dict) or not groups:
        return None, None
    if group_type:
        chosen = group_type
    elif "company" in groups:
        chosen = "company"
    elif len(groups) == 1:
        chosen = next(iter(groups))
    else:
        return None, f"several group types ({', '.join(sorted(groups))}) and no group_type configured"
    value = groups.get(chosen)
    if isinstance(value, list):
        values = [v for v in value if v not in (None, "")]
        if len(values) == 1:
            return str(values[0]), None
        if len(values) > 1:
            return None, f"{len(values)} {chosen} groups on one event"
        return None, None
    if value in (None, ""):
        return None, None
    return str(value), None


def pull_summary(
    tool: str, files: list[str], writer: ExportWriter, http: Http, unknown: UnknownFields, **extra: Any
) -> dict:
    summary = {
        "source": tool,
        "files": files,
        "records": {path: writer.records[path] for path in files},
        "api_calls": http.calls,
        "unknown_fields": unknown.report(),
        "already_written": writer.already_written,
        **extra,
    }
    if writer.already_written:
        # what the run summary lists as not written
        summary["skipped"] = {**summary.get("skipped", {}), ALREADY_WRITTEN: writer.already_written}
    return summary


def progress_bar(items: list, tool: str, enabled: bool) -> Iterable:
    if not enabled or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=f"{tool} windows", unit="window", leave=False)
