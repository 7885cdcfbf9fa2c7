"""Amplitude Export API -> CONTRACT 1a messages in `product/events/amplitude-<window>.jsonl.gz`.

`GET <base_url>/api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH` (both hours inclusive, UTC, by
server upload time) answers a zip archive of gzipped JSON-lines files, one or more per hour; 404
means no data in the range. Basic auth: API key and secret key. One request per window
(`window_hours`, default 24); data is exportable about 2 hours after Amplitude received it, so a pull
stops `lag_hours` (default 2) before now and the next one starts `overlap_hours` (default 2) before
where this one stopped. The field mapping is in docs/CONNECTORS.md.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.connectors._events import (
    ConnectorError,
    ExportWriter,
    Http,
    PullState,
    UnknownFields,
    credential_names,
    floor_to,
    group_of,
    iso,
    now_utc,
    parse_json_object,
    progress_bar,
    pull_summary,
    setting,
    stable_id,
    start_of_pull,
    text_timestamp,
    windows,
)

log = logging.getLogger(__name__)

TOOL = "amplitude"
# settings the connector registry resolves from dlt (credentials and these; see docs/CONNECTORS.md)
CONFIG_KEYS = (
    "base_url",
    "start_date",
    "window_hours",
    "lag_hours",
    "overlap_hours",
    "group_type",
    "max_retries",
    "backoff_seconds",
    "max_wait_seconds",
    "timeout_seconds",
)
DEFAULT_BASE_URL = "https://amplitude.com"
HOUR = timedelta(hours=1)

# The export's documented fields (Export API response schema) and the upload API's device fields
# that exports also carry; anything else is reported as unknown and lands in properties._amplitude.
KNOWN_FIELDS = frozenset(
    [
        "server_received_time",
        "app",
        "device_carrier",
        "city",
        "user_id",
        "uuid",
        "event_time",
        "platform",
        "os_version",
        "amplitude_id",
        "processed_time",
        "version_name",
        "ip_address",
        "paying",
        "dma",
        "group_properties",
        "user_properties",
        "client_upload_time",
        "$insert_id",
        "event_type",
        "library",
        "amplitude_attribution_ids",
        "device_type",
        "start_version",
        "location_lng",
        "server_upload_time",
        "event_id",
        "location_lat",
        "os_name",
        "groups",
        "event_properties",
        "data",
        "device_id",
        "language",
        "country",
        "region",
        "session_id",
        "device_family",
        "sample_rate",
        "client_event_time",
        "insert_id",
        "device_brand",
        "device_manufacturer",
        "device_model",
        "carrier",
        "idfa",
        "idfv",
        "adid",
        "android_id",
        "user_creation_time",
        "is_attribution_event",
        "amplitude_event_type",
        "event_type_id",
        "project_name",
        "schema",
        "ad_id",
        "partner_id",
        "plan",
        "source_id",
        "global_user_properties",
    ]
)
# fields that become Segment fields; the other known fields are kept under context.amplitude
MAPPED_FIELDS = frozenset(
    [
        "uuid",
        "$insert_id",
        "insert_id",
        "user_id",
        "device_id",
        "event_type",
        "event_time",
        "client_event_time",
        "server_received_time",
        "server_upload_time",
        "event_properties",
        "groups",
    ]
)
# ids Amplitude itself treats as no id (http-v2 docs)
INVALID_IDS = frozenset(
    ["anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown", '""', "{}", "lmy47d", "0", "-1"]
    + ["00000000-0000-0000-0000-000000000000"]
)
PAGE_EVENTS = frozenset(["[Amplitude] Page Viewed", "Page View", "page_view"])
# group property updates: no user did anything
SKIPPED_EVENTS = frozenset(["$groupidentify"])
EMAIL_KEYS = ("email", "Email", "$email")


def _valid_id(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if not text or text.lower() in INVALID_IDS else text


def _digest(email: Any) -> str:
    return hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:16]


def _hour_text(value) -> str:
    return value.strftime("%Y%m%dT%H")


def _natural(name: str) -> list:
    # member files are named <project>_<date>_<hour>#<n>.json.gz: hour 10 after hour 9
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def rows_of_export(path: Path, label: str) -> Iterator[dict]:
    """The events of one downloaded export (a zip of gzipped JSON-lines files), in file order."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ConnectorError(
            f"{TOOL}: the export of {label} is not a readable zip archive (truncated?): {error}; "
            "nothing was written"
        ) from error
    for name in sorted(archive.namelist(), key=_natural):
        if name.endswith("/"):
            continue
        try:
            yield from _rows_of_member(archive, name, label)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
            raise ConnectorError(
                f"{TOOL}: {name} in the export of {label} is truncated or corrupt ({error}); "
                "nothing was written"
            ) from error


def _rows_of_member(archive: zipfile.ZipFile, name: str, label: str) -> Iterator[dict]:
    """The rows of one member file, decompressed as they are read (an hour can be large)."""
    with archive.open(name) as member:
        handle = gzip.GzipFile(fileobj=member) if name.endswith(".gz") else member
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except ValueError as error:
                raise ConnectorError(
                    f"{TOOL}: line {number} of {name} in the export of {label} is not JSON ({error}); "
                    "nothing was written"
                ) from error
            if not isinstance(row, dict):
                raise ConnectorError(
                    f"{TOOL}: line {number} of {name} in the export of {label} is not an object"
                )
            yield row


class Mapper:
    """Amplitude export rows -> Segment messages (identify for `$identify`, page for page views,
    track otherwise; one identify the first time a user's email is seen)."""

    def __init__(self, group_type: str | None, identified: dict[str, list[str]]):
        self.group_type = group_type
        self.identified = identified  # user id -> digests of the emails sent as identify traits
        self.unknown = UnknownFields()
        self.skipped: dict[str, int] = {}

    def messages(self, row: dict) -> list[dict]:
        event_type = row.get("event_type")
        if event_type in SKIPPED_EVENTS:
            self.skipped[event_type] = self.skipped.get(event_type, 0) + 1
            return []
        unknown = {key: row[key] for key in row if key not in KNOWN_FIELDS}
        self.unknown.note("event", unknown)
        source_id = row.get("uuid") or row.get("$insert_id") or row.get("insert_id")
        user_id, device_id = _valid_id(row.get("user_id")), _valid_id(row.get("device_id"))
        groups = parse_json_object(row.get("groups"))
        group_id, note = group_of(groups, self.group_type)
        context: dict[str, Any] = {"groupId": group_id, "groups": groups or None}
        if note:
            context["groupIdUnknownReason"] = note
        context[TOOL] = {
            key: parse_json_object(value)
            for key, value in row.items()
            if key not in MAPPED_FIELDS and key not in unknown
        }
        timestamp = text_timestamp(row.get("event_time") or row.get("client_event_time"))
        message: dict[str, Any] = {
            "messageId": f"{TOOL}:{source_id}" if source_id else None,
            "userId": user_id,
            "anonymousId": device_id,
            "timestamp": timestamp,
            "receivedAt": text_timestamp(row.get("server_received_time") or row.get("server_upload_time")),
            "context": context,
        }
        properties = parse_json_object(row.get("event_properties"))
        properties = dict(properties) if isinstance(properties, dict) else {}
        if unknown:
            # fields this mapping does not know land with the event (properties are landed as JSON)
            properties[f"_{TOOL}"] = unknown
        user_properties = parse_json_object(row.get("user_properties"))
        if event_type == "$identify":
            traits = user_properties if isinstance(user_properties, dict) else {}
            message.update(
                type="identify", traits=traits, **({"properties": properties} if properties else {})
            )
        elif event_type in PAGE_EVENTS:
            message.update(type="page", name=event_type, properties=properties)
        else:
            message.update(type="track", event=event_type, properties=properties)
        out = [message]
        email = None
        if isinstance(user_properties, dict):
            email = next((user_properties[k] for k in EMAIL_KEYS if user_properties.get(k)), None)
        if user_id and email and event_type == "$identify":
            # this identify already carries the email: no derived one for it later
            sent = self.identified.setdefault(user_id, [])
            if _digest(email) not in sent:
                sent.append(_digest(email))
        elif user_id and email and _digest(email) not in self.identified.get(user_id, []):
            # the email in user properties is what CONTRACT 2 rule 4 reads from identify traits;
            # one identify per user and email, ever (the state keeps digests, not addresses)
            self.identified.setdefault(user_id, []).append(_digest(email))
            identify = {
                "messageId": stable_id(TOOL, "identify", user_id, email),
                "type": "identify",
                "userId": user_id,
                "anonymousId": device_id,
                "timestamp": timestamp,
                "receivedAt": message["receivedAt"],
                "traits": {"email": email},
                "context": {"groupId": group_id, TOOL: {"derived_from": message["messageId"]}},
            }
            out.insert(0, identify)
        return out


def pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict:
    """Pull the new windows of the Amplitude export into the drop; returns the pull summary."""
    config = dict(config or {})
    api_key = setting(TOOL, config, "api_key", secret=True)
    secret_key = setting(TOOL, config, "secret_key", secret=True)
    base_url = str(setting(TOOL, config, "base_url", DEFAULT_BASE_URL)).rstrip("/")
    http = Http.from_config(
        TOOL, config, credential_names(TOOL, "api_key", "secret_key"), auth=(api_key, secret_key)
    )
    now = now_utc(config)
    lag = timedelta(hours=float(setting(TOOL, config, "lag_hours", 2)))
    overlap = timedelta(hours=float(setting(TOOL, config, "overlap_hours", 2)))
    step = timedelta(hours=int(setting(TOOL, config, "window_hours", 24)))
    state = PullState(state_dir, TOOL)
    # only hours old enough to be complete in the export; never before what was exported already
    end = max(floor_to(now - lag, HOUR), state.exported_until or floor_to(now - lag, HOUR))
    start = start_of_pull(state, config, TOOL, now, overlap, HOUR)
    identified = {user: list(digests) for user, digests in state.data.get("identified", {}).items()}
    mapper = Mapper(setting(TOOL, config, "group_type", None), identified)
    with ExportWriter(source_dir, TOOL, start, end) as writer:
        for window_start, window_end in progress_bar(list(windows(start, end, step)), TOOL, progress):
            params = {"start": _hour_text(window_start), "end": _hour_text(window_end - HOUR)}
            label = f"{params['start']}-{params['end']}"
            download = writer.scratch_file("export.zip")
            status = http.download(f"{base_url}/api/2/export", params, download)
            log.info("%s: %s answered %s", TOOL, label, "no data" if status == 404 else "an export")
            rows = iter(()) if status == 404 else rows_of_export(download, label)
            writer.write_window(window_start, window_end, (m for row in rows for m in mapper.messages(row)))
        files = writer.publish()
        state.save(exported_until=iso(end), identified=mapper.identified)
        return pull_summary(
            TOOL, files, writer, http, mapper.unknown, window=[iso(start), iso(end)], skipped=mapper.skipped
        )
