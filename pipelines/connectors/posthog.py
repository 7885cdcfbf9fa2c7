"""PostHog events -> CONTRACT 1a messages in `product/events/posthog-<window>.jsonl.gz`.

PostHog's batch exports push files to the customer's own bucket or warehouse; the pull that PostHog
documents for reading events over HTTP is the events API:
`GET <base_url>/api/projects/<project_id>/events/?after=ISO&before=ISO&limit=N` with a personal API
key (`Authorization: Bearer`, scope `query:read`), answering `{"next": url | null, "results": [...]}`;
each page's `next` link is followed until it is null. One time window per `window_hours` (default
24); a pull stops `lag_minutes` (default 10) before now and the next starts `overlap_hours` (default
1) before where this one stopped. PostHog marks this endpoint deprecated for bulk export: for large
projects run a batch export to files instead and drop them mapped (the same `Mapper` reads batch
export rows, whose id is `uuid` instead of `id`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    start_of_pull,
    text_timestamp,
    windows,
)

TOOL = "posthog"
# settings the connector registry resolves from dlt (credentials and these; see docs/CONNECTORS.md)
CONFIG_KEYS = (
    "project_id",
    "base_url",
    "start_date",
    "window_hours",
    "page_size",
    "lag_minutes",
    "overlap_hours",
    "group_type",
    "max_retries",
    "backoff_seconds",
    "max_wait_seconds",
    "timeout_seconds",
)
DEFAULT_BASE_URL = "https://us.posthog.com"
MINUTE = timedelta(minutes=1)
# fields of the events API and of batch-export rows
KNOWN_FIELDS = frozenset(
    [
        "id",
        "uuid",
        "event",
        "distinct_id",
        "properties",
        "timestamp",
        "person",
        "elements",
        "elements_chain",
        "created_at",
        "team_id",
        "person_id",
        "person_properties",
        "set",
        "set_once",
        "ip",
        "site_url",
        "inserted_at",
        "_inserted_at",
    ]
)
MAPPED_FIELDS = frozenset(["id", "uuid", "event", "distinct_id", "properties", "timestamp"])
PAGE_EVENTS = frozenset(["$pageview"])
# group property updates (`$groupidentify`) are no user's activity
SKIPPED_EVENTS = frozenset(["$groupidentify"])


class Mapper:
    """PostHog events -> Segment messages."""

    def __init__(self, group_type: str | None):
        self.group_type = group_type
        self.unknown = UnknownFields()
        self.skipped: dict[str, int] = {}

    def messages(self, row: dict) -> list[dict]:
        event = row.get("event")
        if event in SKIPPED_EVENTS:
            self.skipped[event] = self.skipped.get(event, 0) + 1
            return []
        unknown = {key: row[key] for key in row if key not in KNOWN_FIELDS}
        self.unknown.note("event", unknown)
        properties = dict(parse_json_object(row.get("properties")) or {})
        if unknown:
            # fields this mapping does not know land with the event (properties are landed as JSON)
            properties[f"_{TOOL}"] = unknown
        source_id = row.get("uuid") or row.get("id")
        # distinct_id is top level in the API, inside properties in capture batches
        distinct = row.get("distinct_id") or properties.pop("distinct_id", None)
        distinct = str(distinct) if distinct not in (None, "") else None
        device = properties.get("$device_id")
        # an anonymous visitor's distinct_id is its device id; an identified one is the user's id
        user_id = distinct if distinct and distinct != device else None
        anonymous_id = str(device) if device else None
        groups = properties.pop("$groups", None)
        group_id, note = group_of(groups, self.group_type)
        context: dict[str, Any] = {"groupId": group_id, "groups": groups or None}
        if note:
            context["groupIdUnknownReason"] = note
        context[TOOL] = {
            key: value for key, value in row.items() if key not in MAPPED_FIELDS and key not in unknown
        }
        message: dict[str, Any] = {
            "messageId": f"{TOOL}:{source_id}" if source_id else None,
            "userId": user_id,
            "anonymousId": anonymous_id,
            "timestamp": text_timestamp(row.get("timestamp")),
            "receivedAt": text_timestamp(row.get("created_at") or row.get("inserted_at")),
            "context": context,
        }
        if event == "$identify":
            traits = {**(properties.get("$set_once") or {}), **(properties.get("$set") or {})}
            anonymous = properties.get("$anon_distinct_id") or anonymous_id
            message.update(type="identify", anonymousId=anonymous, traits=traits, properties=properties)
        elif event == "$create_alias":
            # `distinct_id` is merged into `alias`: events of the former are the latter's
            message.update(type="identify", userId=properties.get("alias"), anonymousId=distinct, traits={})
        elif event in PAGE_EVENTS:
            properties.setdefault("url", properties.get("$current_url"))
            message.update(type="page", name=event, properties=properties)
        else:
            message.update(type="track", event=event, properties=properties)
        return [message]


def _page(http: Http, url: str, params: dict | None, label: str) -> tuple[list[dict], str | None]:
    response = http.get(url, params=params)
    if response.status_code == 404:
        raise ConnectorError(f"{TOOL}: {url} not found: check SOURCES__POSTHOG__PROJECT_ID and BASE_URL")
    try:
        body = response.json()
    except ValueError as error:
        raise ConnectorError(
            f"{TOOL}: a page of {label} is not JSON (a truncated response?): {error}; nothing was written"
        ) from error
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ConnectorError(f"{TOOL}: a page of {label} has no `results` list; nothing was written")
    return body["results"], body.get("next")


def _rows(http: Http, url: str, params: dict, origin: tuple, label: str) -> Iterator[dict]:
    """The events of one window, page after page (in the API's order, newest first)."""
    page_url: str | None = url
    page_params: dict | None = params
    while page_url:
        results, next_url = _page(http, page_url, page_params, label)
        yield from results
        if next_url and urlsplit(next_url)[:2] != origin:
            # never send the personal API key to another host
            raise ConnectorError(
                f"{TOOL}: a `next` link leaves {urlunsplit((*origin, '', '', ''))}: {next_url}"
            )
        page_url, page_params = next_url, None  # the next link carries every parameter


def pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict:
    """Pull the new windows of PostHog events into the drop; returns the pull summary."""
    config = dict(config or {})
    api_key = setting(TOOL, config, "api_key", secret=True)
    project_id = str(setting(TOOL, config, "project_id"))
    base_url = str(setting(TOOL, config, "base_url", DEFAULT_BASE_URL)).rstrip("/")
    http = Http.from_config(
        TOOL, config, credential_names(TOOL, "api_key"), headers={"Authorization": f"Bearer {api_key}"}
    )
    now = now_utc(config)
    lag = timedelta(minutes=float(setting(TOOL, config, "lag_minutes", 10)))
    overlap = timedelta(hours=float(setting(TOOL, config, "overlap_hours", 1)))
    step = timedelta(hours=int(setting(TOOL, config, "window_hours", 24)))
    page_size = int(setting(TOOL, config, "page_size", 1000))
    state = PullState(state_dir, TOOL)
    start = start_of_pull(state, config, TOOL, now, overlap, MINUTE)
    end = max(floor_to(now - lag, MINUTE), state.exported_until or floor_to(now - lag, MINUTE))
    mapper = Mapper(setting(TOOL, config, "group_type", None))
    origin = urlsplit(base_url)[:2]
    url = f"{base_url}/api/projects/{project_id}/events/"
    with ExportWriter(source_dir, TOOL, start, end) as writer:
        for window_start, window_end in progress_bar(list(windows(start, end, step)), TOOL, progress):
            label = f"{iso(window_start)}..{iso(window_end)}"
            params = {"after": iso(window_start), "before": iso(window_end), "limit": page_size}
            rows = _rows(http, url, params, origin, label)
            writer.write_window(window_start, window_end, (m for row in rows for m in mapper.messages(row)))
        files = writer.publish()
        state.save(exported_until=iso(end))
        return pull_summary(
            TOOL, files, writer, http, mapper.unknown, window=[iso(start), iso(end)], skipped=mapper.skipped
        )
