"""A local HTTP server on 127.0.0.1 that answers like the Amplitude Export API, Mixpanel's raw event
export and PostHog's events API, serving events built from the vendors' documented payloads in
../shared/fixtures (event-payload-specs, fivetran-dbt_amplitude, fivetran-dbt_mixpanel).

The server has its own clock (`now`): only events that happened (were uploaded, for Amplitude) by
then are served, so a test moves time forward and the next pull finds new data. `faults[tool]` is a
list of canned responses (status, headers, body) served, one per request, before the real answers;
`requests` records every request (tool, path, query) in order.
"""

from __future__ import annotations

import base64
import copy
import csv
import gzip
import io
import json
import threading
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
SPECS = SHARED / "event-payload-specs"
CREDENTIALS = {
    "amplitude": ("amp-key", "amp-secret"),
    "mixpanel": ("mp-api-secret", ""),
    "posthog": "phx_personal_key",
}
POSTHOG_PROJECT = "4242"
ACCOUNTS = ["acc_001", "acc_002", "acc_003"]
# the hours (UTC) of each day at which the served events happen
SLOTS = [datetime(2026, 12, day, hour, 10, tzinfo=UTC) for day in (1, 2, 3, 4) for hour in (3, 15)]
UNKNOWN_FIELD = "brand_new_field"
PROFILE_PAGE_SIZE = 2


def available() -> bool:
    return SPECS.is_dir()


def _json(path: Path):
    return json.loads(path.read_text())


def _amplitude_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


# ------------------------------------------------------------------------------------ data
def amplitude_rows() -> list[tuple[datetime, dict]]:
    """(upload time, export row): the Fivetran connector's Amplitude rows with the documented
    export fields, moved to the test days, with company groups and user emails added."""
    with (SHARED / "fivetran-dbt_amplitude" / "seeds" / "amplitude_event_data.csv").open() as handle:
        seeds = list(csv.DictReader(handle))
    export_fields = set(_json(SPECS / "amplitude" / "export_api_response_schema.json")["fields"])
    rows = []
    for number, slot in enumerate(SLOTS):
        for part in range(2):
            seed = seeds[(2 * number + part) % len(seeds)]
            row = {key: value for key, value in seed.items() if key in export_fields and value != ""}
            for key in ("groups", "group_properties", "user_properties", "event_properties", "data"):
                row[key] = json.loads(seed[key]) if seed.get(key) else {}
            account = ACCOUNTS[(number + part) % len(ACCOUNTS)]
            user = f"amp-user-{(number + part) % 4}"
            at = slot + timedelta(minutes=part)
            row.update(
                uuid=_uid("amplitude", number, part),
                user_id=user,
                event_time=_amplitude_time(at),
                client_event_time=_amplitude_time(at),
                server_received_time=_amplitude_time(at + timedelta(seconds=2)),
                server_upload_time=_amplitude_time(at + timedelta(seconds=3)),
                groups={"company": account},
                session_id=int(at.timestamp() * 1000),
                event_properties={"feature": f"feature_{part}", **row["event_properties"]},
                user_properties={**row["user_properties"], "email": f"{user}@{account}.example"},
            )
            rows.append((at, row))
    upload = _json(SPECS / "amplitude" / "batch_upload_example.json")["events"][0]
    first = SLOTS[0] + timedelta(minutes=30)
    # the documented multi-company event (groups value as a list): no single account
    device_fields = {"device_brand", "device_manufacturer", "device_model", "carrier", "idfa", "idfv", "adid"}
    multi = {
        **{k: v for k, v in upload.items() if k in export_fields or k in device_fields},
        "uuid": _uid("amplitude", "multi"),
        "$insert_id": upload["insert_id"],
        "event_time": _amplitude_time(first),
        "server_upload_time": _amplitude_time(first),
        "user_id": "amp-user-0",
        "device_id": "C8F9E604-F01A-4BD9-95C6-8E5357DF265D",
        "groups": {"company": ["acc_001", "acc_002"]},
    }
    identify = {
        "uuid": _uid("amplitude", "identify"),
        "event_type": "$identify",
        "user_id": "amp-user-1",
        "device_id": "dev-amp-1",
        "event_time": _amplitude_time(first),
        "server_upload_time": _amplitude_time(first),
        "user_properties": {"email": "amp-user-1@acc_002.example", "plan": "pro"},
        "groups": {},
    }
    group = _json(SPECS / "amplitude" / "group_identify_example.json")[0]
    group_identify = {
        "uuid": _uid("amplitude", "groupidentify"),
        "event_type": "$groupidentify",
        "event_time": _amplitude_time(first),
        "server_upload_time": _amplitude_time(first),
        "group_properties": group["group_properties"],
        "groups": {group["group_type"]: group["group_value"]},
    }
    # an event without uuid or $insert_id, in the second pull's overlap: the loader quarantines it
    # (missing_message_id), once
    third = SLOTS[4] + timedelta(minutes=20)
    no_id = {
        **{k: v for k, v in rows[0][1].items() if k not in ("uuid", "$insert_id")},
        "event_time": _amplitude_time(third),
        "server_upload_time": _amplitude_time(third),
    }
    rows += [(first, multi), (first, identify), (first, group_identify), (third, no_id)]
    rows[1][1][UNKNOWN_FIELD] = {"shape": "new"}
    return rows


def mixpanel_rows() -> list[tuple[datetime, dict]]:
    """(event time, export row): the documented import/export examples and the Fivetran rows."""
    templates = [json.loads(line) for line in (SPECS / "mixpanel" / "import_events_example.ndjson").open()]
    templates += [json.loads(line) for line in (SPECS / "mixpanel" / "raw_export_example.jsonl").open()]
    with (SHARED / "fivetran-dbt_mixpanel" / "seeds" / "event.csv").open() as handle:
        for seed in csv.DictReader(handle):
            properties = json.loads(seed["properties"])
            properties.update(distinct_id=seed["distinct_id"], **{"$insert_id": seed["insert_id"]})
            templates.append({"event": seed["name"], "properties": properties})
    rows = []
    for number, slot in enumerate(SLOTS):
        for part in range(2):
            row = copy.deepcopy(templates[(2 * number + part) % len(templates)])
            at = slot + timedelta(minutes=part)
            properties = row["properties"]
            properties["time"] = int(at.timestamp())
            properties["$insert_id"] = f"{properties.get('$insert_id', 'ins')}-{number}-{part}"
            properties["mp_processing_time_ms"] = int(at.timestamp() * 1000) + 500
            properties.setdefault("distinct_id", f"mp-user-{number % 3}")
            properties["company_id"] = ACCOUNTS[(number + part) % len(ACCOUNTS)]
            rows.append((at, row))
    # the raw export is not deduplicated: the same event twice is one event (Mixpanel's rule) ...
    rows.append(copy.deepcopy(rows[0]))
    # ... but the same $insert_id at another time is another event (the Fivetran rows 2 and 3)
    other = copy.deepcopy(rows[1])
    other[1]["properties"]["time"] += 60
    rows.append((other[0] + timedelta(minutes=1), other[1]))
    first = SLOTS[0] + timedelta(minutes=30)
    identify = {
        "event": "$identify",
        "properties": {
            "time": int(first.timestamp()),
            "distinct_id": "mp-user-1",
            "$identified_id": "mp-user-1",
            "$anon_distinct_id": "anon-device-9",
            "$insert_id": "identify-1",
            "$email": "mp-user-1@acc_002.example",
        },
    }
    rows.append((first, identify))
    rows[2][1][UNKNOWN_FIELD] = {"shape": "new"}
    return rows


def mixpanel_profiles() -> list[dict]:
    """Query Profiles results: the users of the served events, one without an email."""
    profiles = [
        {
            "$distinct_id": f"mp-user-{number}",
            "$properties": {
                "$email": f"mp-user-{number}@{ACCOUNTS[number]}.example",
                "$last_seen": "2026-12-02T08:00:00",
            },
        }
        for number in range(3)
    ]
    profiles.append(
        {
            "$distinct_id": "9e308c27-42ab-57af-beef-555708cde092",
            "$properties": {"$last_seen": "2026-12-01T10:16:46"},
        }
    )
    return profiles


def posthog_rows() -> list[tuple[datetime, dict]]:
    """(timestamp, events API row): the documented capture payloads as the events API lists them."""
    names = [
        "capture_single_event.json",
        "capture_event_with_group.json",
        "capture_pageview.json",
        "capture_screen.json",
        "capture_personless_event.json",
    ]
    templates = [_json(SPECS / "posthog" / name) for name in names]
    batch = _json(SPECS / "posthog" / "capture_batch.json")["batch"]
    rows = []
    for number, slot in enumerate(SLOTS):
        for part in range(2):
            template = copy.deepcopy(templates[(2 * number + part) % len(templates)])
            at = slot + timedelta(minutes=part)
            properties = template.get("properties", {})
            properties["$groups"] = {"company": ACCOUNTS[(number + part) % len(ACCOUNTS)]}
            row = {
                "id": _uid("posthog", number, part),
                "distinct_id": f"ph-user-{number % 3}",
                "properties": properties,
                "event": template["event"],
                "timestamp": at.isoformat(),
                "person": None,
                "elements": [],
                "elements_chain": "",
            }
            rows.append((at, row))
    first = SLOTS[0] + timedelta(minutes=30)
    item = copy.deepcopy(batch[0])
    item["properties"]["distinct_id"] = "ph-user-7"  # distinct_id inside properties, as in a batch
    item["properties"]["$groups"] = {"company": "acc_003"}
    rows.append(
        (
            first,
            {
                "id": _uid("posthog", "batch"),
                "event": item["event"],
                "properties": item["properties"],
                "timestamp": first.replace(tzinfo=None).isoformat(),
            },
        )
    )  # no offset: UTC
    identify = _json(SPECS / "posthog" / "capture_identify.json")
    identify["properties"]["$set"]["email"] = "ph-user-1@acc_002.example"
    identify["properties"]["$anon_distinct_id"] = "ph-anon-1"
    rows.append(
        (
            first,
            {
                "id": _uid("posthog", "identify"),
                "distinct_id": "ph-user-1",
                "event": "$identify",
                "properties": identify["properties"],
                "timestamp": first.isoformat(),
            },
        )
    )
    group = _json(SPECS / "posthog" / "capture_group_identify.json")
    rows.append(
        (
            first,
            {
                "id": _uid("posthog", "group"),
                "distinct_id": group["distinct_id"],
                "event": group["event"],
                "properties": group["properties"],
                "timestamp": first.isoformat(),
            },
        )
    )
    rows[3][1][UNKNOWN_FIELD] = {"shape": "new"}
    return rows


def truncated(tool: str) -> tuple[int, dict, bytes]:
    """A 200 response whose body was cut: a zip holding a cut gzip file (Amplitude), JSON lines
    ending mid-line (Mixpanel), a JSON page cut in half (PostHog)."""
    if tool == "amplitude":
        lines = "".join(json.dumps(row) + "\n" for _, row in amplitude_rows()[:2]).encode()
        cut = gzip.compress(lines)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("187520/187520_2026-12-01_3#0.json.gz", cut[: len(cut) // 2])
        return 200, {"Content-Type": "application/zip"}, buffer.getvalue()
    if tool == "mixpanel":
        lines = [json.dumps(row) for _, row in mixpanel_rows()[:2]]
        return (
            200,
            {"Content-Type": "text/plain"},
            (lines[0] + "\n" + lines[1][: len(lines[1]) // 2]).encode(),
        )
    page = json.dumps({"next": None, "results": [row for _, row in posthog_rows()[:3]]}).encode()
    return 200, {"Content-Type": "application/json"}, page[: len(page) // 2]


# ------------------------------------------------------------------------------------ server
class ExportServer:
    def __init__(self) -> None:
        self.data = {
            "amplitude": amplitude_rows(),
            "mixpanel": mixpanel_rows(),
            "posthog": posthog_rows(),
            "profiles": mixpanel_profiles(),
        }
        self.now = SLOTS[0]
        self.faults: dict[str, list[tuple[int, dict, bytes]]] = {
            "amplitude": [],
            "mixpanel": [],
            "posthog": [],
        }
        self.requests: list[tuple[str, str, dict]] = []
        self.times: list[float] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.handle(self)

            def do_POST(self) -> None:  # noqa: N802
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self, now: datetime) -> None:
        with self.lock:
            self.now = now
            self.requests.clear()
            self.times.clear()
            for faults in self.faults.values():
                faults.clear()

    def calls(self, tool: str) -> list[dict]:
        return [query for name, _, query in self.requests if name == tool]

    # -------------------------------------------------------------------------------- routing
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        import time

        parts = urlsplit(request.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if request.command == "POST":  # a form: its fields join the query's
            length = int(request.headers.get("Content-Length") or 0)
            form = parse_qs(request.rfile.read(length).decode())
            query.update({key: values[0] for key, values in form.items()})
        if parts.path == "/api/2/export":
            tool = "amplitude"
        elif parts.path in ("/api/2.0/export", "/api/query/engage"):
            tool = "mixpanel"
        elif parts.path.startswith("/api/projects/"):
            tool = "posthog"
        else:
            return self.send(request, 404, {}, b"not found")
        with self.lock:
            self.requests.append((tool, parts.path, query))
            self.times.append(time.monotonic())
            fault = self.faults[tool].pop(0) if self.faults[tool] else None
        if fault is not None:  # a None in the list: this request is answered normally
            return self.send(request, *fault)
        if not self.authorized(tool, request.headers.get("Authorization", "")):
            return self.send(request, 401, {"Content-Type": "application/json"}, b'{"error": "unauthorized"}')
        status, headers, body = getattr(self, tool)(query, parts.path)
        return self.send(request, status, headers, body)

    @staticmethod
    def send(request: BaseHTTPRequestHandler, status: int, headers: dict, body: bytes) -> None:
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        if "Content-Length" not in headers:  # a fault may announce more than it sends
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    @staticmethod
    def authorized(tool: str, header: str) -> bool:
        expected = CREDENTIALS[tool]
        if isinstance(expected, tuple):
            token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
            return header == f"Basic {token}"
        return header == f"Bearer {expected}"

    def _served(self, tool: str) -> list[tuple[datetime, dict]]:
        return [(at, row) for at, row in self.data[tool] if at <= self.now]

    def amplitude(self, query: dict, path: str) -> tuple[int, dict, bytes]:
        start = datetime.strptime(query["start"], "%Y%m%dT%H").replace(tzinfo=UTC)
        end = datetime.strptime(query["end"], "%Y%m%dT%H").replace(tzinfo=UTC) + timedelta(hours=1)
        by_hour: dict[datetime, list[dict]] = {}
        for _at, row in self._served("amplitude"):
            uploaded = datetime.strptime(row["server_upload_time"], "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=UTC
            )
            if start <= uploaded < end:
                by_hour.setdefault(uploaded.replace(minute=0, second=0, microsecond=0), []).append(row)
        if not by_hour:
            return 404, {}, b"No data available for the time range"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for hour, rows in sorted(by_hour.items()):
                lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
                archive.writestr(f"187520/187520_{hour:%Y-%m-%d}_{hour.hour}#0.json.gz", gzip.compress(lines))
        return 200, {"Content-Type": "application/zip"}, buffer.getvalue()

    def mixpanel(self, query: dict, path: str) -> tuple[int, dict, bytes]:
        if path == "/api/query/engage":
            return self.profiles(query)
        first = datetime.fromisoformat(query["from_date"]).replace(tzinfo=UTC)
        last = datetime.fromisoformat(query["to_date"]).replace(tzinfo=UTC) + timedelta(days=1)
        lines = [
            json.dumps(row)
            for at, row in self._served("mixpanel")
            if first <= datetime.fromtimestamp(row["properties"]["time"], UTC) < last
        ]
        return 200, {"Content-Type": "text/plain"}, "".join(line + "\n" for line in lines).encode()

    def profiles(self, query: dict) -> tuple[int, dict, bytes]:
        """Mixpanel's Query Profiles answer: pages of PROFILE_PAGE_SIZE with a session id."""
        page = int(query.get("page", 0))
        assert json.loads(query["output_properties"]) == ["$email", "$last_seen"]
        assert page == 0 or query.get("session_id") == "session-1"
        rows = self.data["profiles"][page * PROFILE_PAGE_SIZE : (page + 1) * PROFILE_PAGE_SIZE]
        body = {"page": page, "page_size": PROFILE_PAGE_SIZE, "session_id": "session-1", "status": "ok"}
        body.update(total=len(self.data["profiles"]), results=rows)
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def posthog(self, query: dict, path: str) -> tuple[int, dict, bytes]:
        after = datetime.fromisoformat(query["after"].replace("Z", "+00:00"))
        before = datetime.fromisoformat(query["before"].replace("Z", "+00:00"))
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        rows = [row for at, row in self._served("posthog") if after <= at < before]
        rows.sort(key=lambda row: row["timestamp"], reverse=True)  # newest first, as the API
        page = rows[offset : offset + limit]
        next_url = None
        if offset + limit < len(rows):
            params = {
                "after": query["after"],
                "before": query["before"],
                "limit": limit,
                "offset": offset + limit,
            }
            next_url = f"{self.base_url}{path}?{urlencode(params)}"
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"next": next_url, "results": page}).encode(),
        )
