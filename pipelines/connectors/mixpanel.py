"""Mixpanel raw event export -> CONTRACT 1a messages in `product/events/mixpanel-<window>.jsonl.gz`.

`GET <base_url>/api/2.0/export?from_date=YYYY-MM-DD&to_date=YYYY-MM-DD[&project_id=N]` answers JSON
lines, one event each (`{"event": ..., "properties": {"time", "distinct_id", "$insert_id", ...}}`).
Auth: a service account (basic auth `username:secret`, with `project_id`) or the project's API
secret (basic auth `api_secret:`). Dates are UTC days (projects created before 2023 use the project
time zone: keep `overlap_days` at 1 or more there). One request per `window_days` (default 1);
the next pull starts `overlap_days` (default 1) before the time this one ran, because the raw
export also holds late-arriving events of past days. The raw export is not deduplicated: the
messageId is Mixpanel's own dedup key, so its duplicates collapse into one message. User profiles
with an `$email` (Query Profiles, `POST <query_base_url>/api/query/engage`) become identify
messages, once per user and email.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.connectors._events import (
    ConnectorError,
    CredentialError,
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

TOOL = "mixpanel"
# settings the connector registry resolves from dlt (credentials and these; see docs/CONNECTORS.md)
CONFIG_KEYS = (
    "username",
    "secret",
    "project_id",
    "base_url",
    "query_base_url",
    "profiles",
    "start_date",
    "window_days",
    "overlap_days",
    "group_key",
    "user_id_property",
    "max_retries",
    "backoff_seconds",
    "max_wait_seconds",
    "timeout_seconds",
)
DEFAULT_BASE_URL = "https://data.mixpanel.com"
DEFAULT_QUERY_URL = "https://mixpanel.com"  # the Query API (profiles) has its own host
DAY = timedelta(days=1)
KNOWN_FIELDS = frozenset(["event", "properties"])
# properties that become Segment fields (the others stay in properties)
MAPPED_PROPERTIES = ("distinct_id", "time", "$insert_id", "mp_processing_time_ms")
# group keys tried in order when `group_key` is not configured (Mixpanel group analytics keys are
# project settings; these are the usual ones)
DEFAULT_GROUP_KEYS = ("company_id", "$group_id", "company")
PAGE_EVENTS = frozenset(["$mp_web_page_view"])
# `$merge` names two distinct ids without saying which is the user; `$identify` carries both
SKIPPED_EVENTS = frozenset(["$merge", "$create_alias"])


def rows_of_export(path: Path, label: str) -> Iterator[dict]:
    """The events of one downloaded export (JSON lines), read line by line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except ValueError as error:  # not JSON, or not UTF-8
                raise ConnectorError(
                    f"{TOOL}: line {number} of the export of {label} is not JSON (a truncated response?): "
                    f"{error}; nothing was written"
                ) from error
            if not isinstance(row, dict):
                raise ConnectorError(f"{TOOL}: line {number} of the export of {label} is not an object")
            yield row


class Mapper:
    """Mixpanel export rows -> Segment messages."""

    def __init__(self, group_keys: list[str], user_id_property: str):
        self.group_keys = group_keys
        self.user_id_property = user_id_property
        self.unknown = UnknownFields()
        self.skipped: dict[str, int] = {}

    def _identity(self, properties: dict, distinct_id: Any) -> tuple[str | None, str | None]:
        """(userId, anonymousId). Simplified ID merge sends `$user_id` and `$device_id`, and an
        anonymous distinct_id is `$device:<id>`; with original ID merge distinct_id is the user once
        identified, or the device before. `user_id_property` names the user id property when the
        project sends its own (the Fivetran sample's `user_id`): distinct_id is then the device."""
        device = properties.get("$device_id")
        user = properties.get(self.user_id_property)
        user = str(user) if user not in (None, "") else None
        distinct = str(distinct_id) if distinct_id not in (None, "") else None
        if distinct and distinct.startswith("$device:"):
            device = device or distinct[len("$device:") :]
        elif distinct and user is None and distinct != device:
            user = distinct
        elif distinct and distinct != user:
            device = device or distinct
        return user, (str(device) if device not in (None, "") else None)

    def messages(self, row: dict) -> list[dict]:
        event = row.get("event")
        if event in SKIPPED_EVENTS:
            self.skipped[event] = self.skipped.get(event, 0) + 1
            return []
        extra = {key: value for key, value in row.items() if key not in KNOWN_FIELDS}
        self.unknown.note("event", extra)
        properties = dict(parse_json_object(row.get("properties")) or {})
        distinct_id = properties.get("distinct_id")
        event_time = properties.get("time")
        insert_id = properties.get("$insert_id")
        # Mixpanel's dedup rule: the same event, distinct_id, time and $insert_id is one event
        # (an event without $insert_id is never deduplicated: the whole row identifies it)
        if insert_id:
            message_id = stable_id(TOOL, event, distinct_id, event_time, insert_id)
        else:
            message_id = stable_id(TOOL, row)
        user_id, anonymous_id = self._identity(properties, distinct_id)
        key = next((k for k in self.group_keys if properties.get(k) not in (None, "", [])), None)
        group_id, note = group_of({key: properties[key]}, key) if key else (None, None)
        context: dict[str, Any] = {
            "groupId": group_id,
            TOOL: {name: properties.pop(name) for name in MAPPED_PROPERTIES if name in properties},
        }
        if extra:
            # top-level fields this mapping does not know land with the event
            properties[f"_{TOOL}"] = extra
        if note:
            context["groupIdUnknownReason"] = note
        message: dict[str, Any] = {
            "messageId": message_id,
            "userId": user_id,
            "anonymousId": anonymous_id,
            "timestamp": text_timestamp(event_time),
            "receivedAt": text_timestamp(context[TOOL].get("mp_processing_time_ms")),
            "context": context,
        }
        if event == "$identify":
            user = properties.get("$identified_id") or user_id
            anonymous = properties.get("$anon_distinct_id") or anonymous_id
            traits = {"email": properties["$email"]} if properties.get("$email") else {}
            message.update(
                type="identify", userId=user, anonymousId=anonymous, traits=traits, properties=properties
            )
        elif event in PAGE_EVENTS:
            message.update(type="page", name=event, properties=properties)
        else:
            message.update(type="track", event=event, properties=properties)
        return [message]


def _profiles(http: Http, url: str, project_id: str | None) -> Iterator[dict]:
    """Every user profile's distinct id, email and last-seen time (the Query Profiles API pages by
    `session_id` and `page` until a page is shorter than `page_size`)."""
    params = {"project_id": project_id} if project_id else None
    form: dict[str, Any] = {"output_properties": json.dumps(["$email", "$last_seen"])}
    while True:
        response = http.post(url, data=form, params=params)
        try:
            body = response.json()
            results, page_size = body["results"], int(body["page_size"])
        except (ValueError, KeyError, TypeError) as error:
            raise ConnectorError(
                f"{TOOL}: a profiles page is not the Query Profiles answer (a truncated response?): "
                f"{error}; nothing was written"
            ) from error
        yield from results
        if len(results) < page_size or not results:
            return
        form = {**form, "session_id": body["session_id"], "page": int(body["page"]) + 1}


def profile_messages(profiles: Iterable[dict], identified: dict[str, list[str]], now) -> Iterator[dict]:
    """One identify per profile and email never sent before (`identified`: distinct id -> email
    digests already sent, kept in the state), timed at the profile's `$last_seen` (else the pull)."""
    for profile in profiles:
        distinct_id = profile.get("$distinct_id")
        properties = profile.get("$properties") or {}
        email = properties.get("$email")
        if distinct_id in (None, "") or not email:
            continue
        digest = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:16]
        sent = identified.setdefault(str(distinct_id), [])
        if digest in sent:
            continue
        sent.append(digest)
        yield {
            "messageId": stable_id(TOOL, "profile", distinct_id, email),
            "type": "identify",
            "userId": str(distinct_id),
            "anonymousId": None,
            "timestamp": text_timestamp(properties.get("$last_seen")) or iso(now),
            "receivedAt": iso(now),
            "traits": {"email": email},
            "context": {"groupId": None, TOOL: {"source": "profile"}},
        }


def _auth(config: dict) -> tuple[tuple[str, str], str | None, str]:
    """(basic auth, project_id, the credential names a 401 points to)."""
    username = setting(TOOL, config, "username", None, secret=True)
    if username:
        secret = setting(TOOL, config, "secret", secret=True)
        project_id = str(setting(TOOL, config, "project_id"))
        return (username, secret), project_id, credential_names(TOOL, "username", "secret", "project_id")
    api_secret = setting(TOOL, config, "api_secret", None, secret=True)
    if not api_secret:
        raise CredentialError(
            f"{TOOL}: no credentials: set {credential_names(TOOL, 'username', 'secret', 'project_id')} "
            f"(service account) or SOURCES__MIXPANEL__API_SECRET (project secret)"
        )
    project_id = setting(TOOL, config, "project_id", None)
    return (api_secret, ""), (str(project_id) if project_id else None), credential_names(TOOL, "api_secret")


def pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict:
    """Pull the new days of the Mixpanel raw export into the drop; returns the pull summary."""
    config = dict(config or {})
    auth, project_id, names = _auth(config)
    base_url = str(setting(TOOL, config, "base_url", DEFAULT_BASE_URL)).rstrip("/")
    http = Http.from_config(TOOL, config, names, auth=auth)
    now = now_utc(config)
    overlap = timedelta(days=float(setting(TOOL, config, "overlap_days", 1)))
    step = timedelta(days=int(setting(TOOL, config, "window_days", 1)))
    configured_keys = setting(TOOL, config, "group_key", None)
    if isinstance(configured_keys, str):
        configured_keys = [configured_keys]
    mapper = Mapper(
        list(configured_keys or DEFAULT_GROUP_KEYS), setting(TOOL, config, "user_id_property", "$user_id")
    )
    state = PullState(state_dir, TOOL)
    start = start_of_pull(state, config, TOOL, now, overlap, DAY)
    end = floor_to(now, DAY) + DAY  # today included: the export answers what it has so far
    with ExportWriter(source_dir, TOOL, start, end) as writer:
        for window_start, window_end in progress_bar(list(windows(start, end, step)), TOOL, progress):
            params = {
                "from_date": window_start.date().isoformat(),
                "to_date": (window_end - DAY).date().isoformat(),
            }
            if project_id:
                params["project_id"] = project_id
            label = f"{params['from_date']}..{params['to_date']}"
            download = writer.scratch_file("export.jsonl")
            status = http.download(f"{base_url}/api/2.0/export", params, download)
            log.info("%s: %s exported", TOOL, label)
            rows = iter(()) if status == 404 else rows_of_export(download, label)
            writer.write_window(window_start, window_end, (m for row in rows for m in mapper.messages(row)))
        identified = {user: list(digests) for user, digests in state.data.get("identified", {}).items()}
        if setting(TOOL, config, "profiles", True) not in (False, "false", "False", "0", 0):
            query_url = str(setting(TOOL, config, "query_base_url", DEFAULT_QUERY_URL)).rstrip("/")
            profiles = _profiles(http, f"{query_url}/api/query/engage", project_id)
            identifies = profile_messages(profiles, identified, now)
            writer.write_window(start, end, identifies, kind="profiles")
        files = writer.publish()
        # the next pull starts overlap_days before now, not before the end of today
        state.save(exported_until=iso(max(now, state.exported_until or now)), identified=identified)
        return pull_summary(
            TOOL, files, writer, http, mapper.unknown, window=[iso(start), iso(end)], skipped=mapper.skipped
        )
