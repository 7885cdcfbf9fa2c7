"""The product-analytics export connectors (pipelines/connectors/amplitude.py, mixpanel.py,
posthog.py) against a real local HTTP server on 127.0.0.1 (tests/python/product_export_server.py)
serving the vendors' documented payloads: windows and pages, retries on 429 and 5xx, a 401 naming
the credential, truncated responses, unknown fields, the incremental second pull and its request
count, and the written files landed by the real loader into a temporary DuckDB.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import product_export_server as fake  # noqa: E402

from pipelines.connectors import amplitude, mixpanel, posthog  # noqa: E402
from pipelines.connectors._events import ConnectorError, CredentialError  # noqa: E402

pytestmark = [
    pytest.mark.connectors,
    pytest.mark.skipif(
        not fake.available(), reason="the shared vendor fixtures are only in the development checkout"
    ),
]

TOOLS = {"amplitude": amplitude, "mixpanel": mixpanel, "posthog": posthog}
FIRST = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SECOND = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
# requests of the first pull (three windows; PostHog pages of 3 events: 3 + 2 + 1) and of the second

# (Mixpanel: + 3 pages of profiles, 2 per page, the last one empty)
FIRST_CALLS = {"amplitude": 3, "mixpanel": 6, "posthog": 6}
SECOND_CALLS = {"amplitude": 2, "mixpanel": 6, "posthog": 4}
# one file per window; Mixpanel's profiles make one more
FIRST_FILES = {"amplitude": 3, "mixpanel": 4, "posthog": 3}
# overlaps that reach back to events of the first pull (the served events are at 03:10 and 15:10)
OVERLAP = {
    "amplitude": {"overlap_hours": 8},
    "mixpanel": {"overlap_days": 1},
    "posthog": {"overlap_hours": 9},
}


def config(tool: str, server: fake.ExportServer, now: datetime, **extra) -> dict:
    common = {
        "base_url": server.base_url,
        "start_date": "2026-12-01T00:00:00Z",
        "now": now.isoformat(),
        "backoff_seconds": 0.01,
        "max_retries": 2,
        "max_wait_seconds": 5,
        "timeout_seconds": 10,
    }
    credentials = {
        "amplitude": {"api_key": "amp-key", "secret_key": "amp-secret"},
        "mixpanel": {"api_secret": "mp-api-secret", "query_base_url": server.base_url},
        "posthog": {"api_key": "phx_personal_key", "project_id": fake.POSTHOG_PROJECT, "page_size": 3},
    }[tool]
    return {**common, **credentials, **OVERLAP[tool], **extra}


def pull(
    tool: str, server: fake.ExportServer, drop: Path, now: datetime, keep_faults: bool = False, **extra
) -> dict:
    """One pull of `tool` at `now` into `drop`; the server's clock moves to `now` and its request
    log starts afresh (its queued faults too, unless `keep_faults`)."""
    if keep_faults:
        server.now = now
    else:
        server.reset(now)
    return TOOLS[tool].pull(
        drop, state_dir=state_of(drop), config=config(tool, server, now, **extra), progress=False
    )


def state_of(drop: Path) -> Path:
    return drop.parent / f"{drop.name}-state"


def messages(drop: Path, tool: str) -> list[dict]:
    out = []
    for path in sorted((drop / "product" / "events").glob(f"{tool}-*.jsonl.gz")):
        with gzip.open(path, "rt") as handle:
            out += [json.loads(line) for line in handle]
    return out


def written(drop: Path) -> list[str]:
    """Everything under the events folder, hidden staging folders included."""
    folder = drop / "product" / "events"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture(scope="module")
def server():
    served = fake.ExportServer()
    yield served
    served.close()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    path = tmp_path / "drop"
    path.mkdir()
    return path


# ------------------------------------------------------------------------------------ pulls
@pytest.mark.parametrize("tool", TOOLS)
def test_a_pull_writes_one_file_per_window_of_segment_messages(tool, server, drop):
    summary = pull(tool, server, drop, FIRST)
    assert summary["source"] == tool
    assert summary["api_calls"] == FIRST_CALLS[tool] == len(server.calls(tool))
    assert len(summary["files"]) == FIRST_FILES[tool]
    assert all(
        path.startswith(f"product/events/{tool}-") and path.endswith(".jsonl.gz") for path in summary["files"]
    )
    found = messages(drop, tool)
    assert sum(summary["records"].values()) == len(found)
    ids = [m["messageId"] for m in found if m["messageId"]]
    assert len(ids) == len(set(ids))
    # Amplitude serves one event with neither uuid nor $insert_id: written without a messageId
    assert len(found) - len(ids) == (1 if tool == "amplitude" else 0)
    assert {m["type"] for m in found} <= {"track", "identify", "page"}
    tracks = [m for m in found if m["type"] == "track"]
    assert tracks and all(m["timestamp"].endswith("Z") for m in found)
    # account attribution from the tool's group field
    assert {m["context"]["groupId"] for m in tracks} - {None} <= set(fake.ACCOUNTS)
    assert sum(1 for m in tracks if m["context"]["groupId"]) >= len(tracks) - 1
    assert all(m["userId"] or m["anonymousId"] for m in found)
    # group property updates are no user's activity: counted, not written
    # (and Mixpanel's export repeats one event, written once)
    expected = {"$groupidentify": 1} if tool != "mixpanel" else {"already in the drop": 1}
    assert summary["skipped"] == expected
    state = json.loads((state_of(drop) / f"{tool}.json").read_text())
    # Mixpanel's window ends with today; the next pull counts its overlap back from the pull's time
    assert state["exported_until"] == ("2026-12-03T12:00:00Z" if tool == "mixpanel" else summary["window"][1])


def test_amplitude_maps_groups_ids_and_user_emails(server, drop):
    pull("amplitude", server, drop, FIRST)
    found = {m["messageId"]: m for m in messages(drop, "amplitude")}
    multi = found[f"amplitude:{fake._uid('amplitude', 'multi')}"]
    # the documented event in two companies: no single account, and why
    assert multi["context"]["groupId"] is None
    assert multi["context"]["groupIdUnknownReason"] == "2 company groups on one event"
    assert multi["context"]["groups"]["company"] == ["acc_001", "acc_002"]
    identify = found[f"amplitude:{fake._uid('amplitude', 'identify')}"]
    assert identify["type"] == "identify" and identify["traits"]["email"] == "amp-user-1@acc_002.example"
    first = found[f"amplitude:{fake._uid('amplitude', 0, 0)}"]
    assert first == {
        **first,
        "type": "track",
        "event": "watch_test_amplitude",
        "userId": "amp-user-0",
        "anonymousId": "2ff5d160-21b5-5101-87e8-ba5aa69d7961",
        "timestamp": "2026-12-01T03:10:00Z",
        "receivedAt": "2026-12-01T03:10:02Z",
    }
    assert first["context"]["groupId"] == "acc_001" and first["properties"]["feature"] == "feature_0"
    # one identify per user and email, before the user's first event with it
    derived = [m for m in found.values() if m["type"] == "identify" and m is not identify]
    assert len({(m["userId"], m["traits"]["email"]) for m in derived}) == len(derived) > 0


def test_mixpanel_applies_its_dedup_rule_and_identity_properties(server, drop):
    pull("mixpanel", server, drop, FIRST)
    found = [m for m in messages(drop, "mixpanel") if m["context"]["mixpanel"].get("source") != "profile"]
    served = [row for at, row in server.data["mixpanel"] if at <= FIRST]
    # the row served twice is one message; the same $insert_id at another time is another one
    assert len({m["messageId"] for m in found}) == len(found) == len(served) - 1
    plays = [m for m in found if m.get("event") == "plays"]
    # by default (original ID merge, no $user_id) distinct_id is the user
    assert plays and all(m["userId"] == "9e308c27-42ab-57af-beef-555708cde092" for m in plays)
    identify = next(m for m in found if m["type"] == "identify")
    assert (identify["userId"], identify["anonymousId"], identify["traits"]) == (
        "mp-user-1",
        "anon-device-9",
        {"email": "mp-user-1@acc_002.example"},
    )
    assert all(m["timestamp"].startswith("2026-12-0") for m in found)  # seconds since epoch


def test_posthog_reads_distinct_id_in_properties_and_timestamps_without_offset(server, drop):
    pull("posthog", server, drop, FIRST)
    found = {m["messageId"]: m for m in messages(drop, "posthog")}
    batch = found[f"posthog:{fake._uid('posthog', 'batch')}"]
    assert (batch["userId"], batch["context"]["groupId"], batch["timestamp"]) == (
        "ph-user-7",
        "acc_003",
        "2026-12-01T03:40:00Z",
    )
    identify = found[f"posthog:{fake._uid('posthog', 'identify')}"]
    assert identify["type"] == "identify" and identify["traits"]["email"] == "ph-user-1@acc_002.example"
    assert identify["anonymousId"] == "ph-anon-1"
    assert any(m["type"] == "page" and m["properties"]["url"] for m in found.values())


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_field_lands_in_properties_and_is_reported(tool, server, drop):
    summary = pull(tool, server, drop, FIRST)
    assert summary["unknown_fields"] == {"event": [fake.UNKNOWN_FIELD]}
    carrying = [
        m for m in messages(drop, tool) if fake.UNKNOWN_FIELD in m.get("properties", {}).get(f"_{tool}", {})
    ]
    assert len(carrying) == 1
    assert carrying[0]["properties"][f"_{tool}"][fake.UNKNOWN_FIELD] == {"shape": "new"}


def test_mixpanel_profiles_with_an_email_become_identifies_once(server, drop):
    first = pull("mixpanel", server, drop, FIRST)
    profiles = [m for m in messages(drop, "mixpanel") if m["context"]["mixpanel"].get("source") == "profile"]
    assert sorted((m["userId"], m["traits"]["email"], m["timestamp"]) for m in profiles) == [
        ("mp-user-0", "mp-user-0@acc_001.example", "2026-12-02T08:00:00Z"),
        ("mp-user-1", "mp-user-1@acc_002.example", "2026-12-02T08:00:00Z"),
        ("mp-user-2", "mp-user-2@acc_003.example", "2026-12-02T08:00:00Z"),
    ]
    assert first["records"]["product/events/mixpanel-profiles-20261201T0000-20261204T0000.jsonl.gz"] == 3
    # the next pull asks again (3 pages) but writes no profile already sent
    second = pull("mixpanel", server, drop, SECOND)
    assert len([q for q in server.calls("mixpanel") if "output_properties" in q]) == 3
    assert not any("profiles" in path for path in second["files"])


def test_mixpanel_reads_the_user_from_a_configured_property(server, drop):
    # the Fivetran sample sends its user id as properties.user_id beside a device-style distinct_id
    pull("mixpanel", server, drop, FIRST, user_id_property="user_id")
    plays = [m for m in messages(drop, "mixpanel") if m.get("event") == "plays"]
    assert plays and {(m["userId"], m["anonymousId"]) for m in plays} == {
        ("114521", "9e308c27-42ab-57af-beef-555708cde092")
    }


def test_credentials_come_from_dlt_environment_variables(server, drop, monkeypatch):
    monkeypatch.setenv("SOURCES__POSTHOG__API_KEY", fake.CREDENTIALS["posthog"])
    monkeypatch.setenv("SOURCES__POSTHOG__PROJECT_ID", fake.POSTHOG_PROJECT)
    monkeypatch.setenv("SOURCES__POSTHOG__BASE_URL", server.base_url)
    server.reset(FIRST)
    settings = config("posthog", server, FIRST)
    for key in ("api_key", "project_id", "base_url"):
        settings.pop(key)
    summary = posthog.pull(drop, state_dir=state_of(drop), config=settings, progress=True)
    assert len(summary["files"]) == FIRST_FILES["posthog"]


def test_dlt_http_settings_apply_when_the_connector_sets_none():
    from pipelines.connectors._events import Http

    dlt_names = {"request_max_attempts": 3, "request_backoff_factor": 0.5, "request_max_retry_delay": 9}
    http = Http.from_config("amplitude", {**dlt_names, "request_timeout": 7}, "names")
    assert (http.max_retries, http.backoff_seconds, http.max_wait_seconds, http.timeout_seconds) == (
        2,
        0.5,
        9,
        7,
    )
    own = Http.from_config("amplitude", {**dlt_names, "max_retries": 1, "backoff_seconds": 0.1}, "names")
    assert (own.max_retries, own.backoff_seconds, own.max_wait_seconds, own.timeout_seconds) == (
        1,
        0.1,
        9,
        300,
    )


def test_a_missing_credential_is_named_before_any_request(server, drop, monkeypatch):
    monkeypatch.delenv("SOURCES__AMPLITUDE__SECRET_KEY", raising=False)
    settings = config("amplitude", server, FIRST)
    settings.pop("secret_key")
    server.reset(FIRST)
    with pytest.raises(CredentialError, match="SOURCES__AMPLITUDE__SECRET_KEY"):
        amplitude.pull(drop, state_dir=state_of(drop), config=settings, progress=False)
    assert server.calls("amplitude") == []


def test_a_posthog_next_link_to_another_host_is_not_followed(server, drop):
    server.reset(FIRST)
    page = {"next": "http://203.0.113.9/api/projects/4242/events/?offset=3", "results": []}
    server.faults["posthog"].append((200, {"Content-Type": "application/json"}, json.dumps(page).encode()))
    with pytest.raises(ConnectorError, match="a `next` link leaves http://127.0.0.1"):
        pull("posthog", server, drop, FIRST, keep_faults=True)
    assert len(server.calls("posthog")) == 1 and written(drop) == []


# ------------------------------------------------------------------------------------ incremental
@pytest.mark.parametrize("tool", TOOLS)
def test_a_second_pull_asks_only_for_new_windows_and_writes_only_new_messages(tool, server, drop, tmp_path):
    pull(tool, server, drop, FIRST)
    before = {path: path.read_bytes() for path in (drop / "product" / "events").glob("*.jsonl.gz")}
    second = pull(tool, server, drop, SECOND)
    assert second["api_calls"] == SECOND_CALLS[tool] == len(server.calls(tool))
    # it starts at the first pull's end minus the overlap, never at the start date again
    first_asked = {
        "amplitude": lambda q: q["start"] >= "20261203T02",
        "mixpanel": lambda q: "from_date" not in q or q["from_date"] >= "2026-12-02",
        "posthog": lambda q: "after" not in q or q["after"] >= "2026-12-03T02:50",
    }[tool]
    assert all(first_asked(query) for query in server.calls(tool))
    assert second["already_written"] > 0  # the overlap was fetched again, and skipped
    assert {path: path.read_bytes() for path in before} == before  # earlier files untouched
    incremental = [str(m["messageId"]) for m in messages(drop, tool)]
    # nothing written twice, the message without an id included
    assert len(incremental) == len(set(incremental))
    # the same messages as one pull of everything at the second time
    full = tmp_path / "full"
    full.mkdir()
    pull(tool, server, full, SECOND)
    assert sorted(incremental) == sorted(str(m["messageId"]) for m in messages(full, tool))
    # pulling the same data again writes nothing
    again = pull(tool, server, drop, SECOND)
    assert again["files"] == [] and again["already_written"] > 0
    assert sorted(str(m["messageId"]) for m in messages(drop, tool)) == sorted(incremental)


# ------------------------------------------------------------------------------------ failures
@pytest.mark.parametrize("tool", TOOLS)
def test_a_429_is_retried_after_the_time_it_says(tool, server, drop):
    server.reset(FIRST)
    server.faults[tool].append((429, {"Retry-After": "1"}, b"rate limited"))
    summary = pull(tool, server, drop, FIRST, keep_faults=True)
    assert summary["api_calls"] == FIRST_CALLS[tool] + 1 == len(server.calls(tool))
    assert server.times[1] - server.times[0] >= 0.9
    assert len(summary["files"]) == FIRST_FILES[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_connection_cut_mid_body_is_retried(tool, server, drop):
    server.reset(FIRST)
    server.faults[tool].append((200, {"Content-Length": "100000"}, b'{"cut": '))
    summary = pull(tool, server, drop, FIRST, keep_faults=True)
    assert summary["api_calls"] == FIRST_CALLS[tool] + 1 == len(server.calls(tool))
    assert len(summary["files"]) == FIRST_FILES[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_401_stops_the_pull_naming_the_credential(tool, server, drop):
    wrong = {
        "amplitude": {"secret_key": "wrong"},
        "mixpanel": {"api_secret": "wrong"},
        "posthog": {"api_key": "wrong"},
    }
    with pytest.raises(CredentialError) as raised:
        pull(tool, server, drop, FIRST, **wrong[tool])
    names = {
        "amplitude": "SOURCES__AMPLITUDE__API_KEY and SOURCES__AMPLITUDE__SECRET_KEY",
        "mixpanel": "SOURCES__MIXPANEL__API_SECRET",
        "posthog": "SOURCES__POSTHOG__API_KEY",
    }
    assert "HTTP 401" in str(raised.value) and names[tool] in str(raised.value)
    assert len(server.calls(tool)) == 1  # not retried
    assert written(drop) == [] and not (state_of(drop) / f"{tool}.json").exists()


@pytest.mark.parametrize("tool", TOOLS)
def test_a_5xx_is_retried_then_fails_the_pull_with_nothing_written(tool, server, drop):
    server.reset(FIRST)
    # the first window is answered, every later request fails
    server.faults[tool] += [None] * (FIRST_CALLS[tool] - 1 if tool == "posthog" else 1)
    server.faults[tool] += [(503, {}, b"unavailable")] * 3
    with pytest.raises(ConnectorError, match=r"failed after 3 attempts, the last with HTTP 503"):
        pull(tool, server, drop, FIRST, keep_faults=True)
    assert written(drop) == []  # the answered window was staged, never published
    assert not (state_of(drop) / f"{tool}.json").exists()
    # the next pull asks for everything again and succeeds
    assert len(pull(tool, server, drop, FIRST)["files"]) == FIRST_FILES[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_truncated_response_fails_clearly_with_nothing_written(tool, server, drop):
    server.reset(FIRST)
    server.faults[tool].append(fake.truncated(tool))
    expected = {
        "amplitude": r"187520_2026-12-01_3#0.json.gz in the export of 20261201T00-20261201T23 is truncated",
        "mixpanel": r"line 2 of the export of 2026-12-01..2026-12-01 is not JSON \(a truncated response\?\)",
        "posthog": r"a page of 2026-12-01T00:00:00Z..2026-12-02T00:00:00Z is not JSON \(a truncated",
    }
    with pytest.raises(ConnectorError, match=expected[tool]):
        pull(tool, server, drop, FIRST, keep_faults=True)
    assert written(drop) == []


# ------------------------------------------------------------------------------------ landing
def test_pulled_files_land_through_the_loader_with_accounts_from_the_group_field(server, tmp_path):
    from pipelines.load import load_drop

    drop = tmp_path / "drop"
    (drop / "crm").mkdir(parents=True)
    (drop / "crm" / "accounts.csv").write_text(
        "account_id,name,domain,segment,industry,csm_owner,stripe_customer_id,created_at\n"
        + "".join(f"{a},{a.title()},{a}.example,smb,software,csm,,2026-01-01\n" for a in fake.ACCOUNTS)
    )
    for now in (FIRST, SECOND):
        for tool in TOOLS:
            pull(tool, server, drop, now)
    warehouse = tmp_path / "health.duckdb"
    landed = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert sorted(p for p in landed["files_loaded"] if p.startswith("product/")) == sorted(
        p.relative_to(drop).as_posix() for p in (drop / "product" / "events").glob("*.jsonl.gz")
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        per_tool = dict(
            con.execute(
                "select split_part(message_id, ':', 1), count(*) from raw_product.events group by 1"
            ).fetchall()
        )
        in_files = {tool: [m for m in messages(drop, tool) if m["messageId"]] for tool in TOOLS}
        assert per_tool == {tool: len(found) for tool, found in in_files.items()}
        # every delivery with an id is the stored copy: the overlap became no duplicate delivery;
        # the one without an id is delivered once, for staging to reject (missing_message_id)
        deliveries = con.execute(
            "select count(message_id), count(*) - count(message_id) from raw_product.event_deliveries"
        ).fetchone()
        assert deliveries == (sum(per_tool.values()), 1)
        assert con.execute("select count(*) from raw_product.quarantined_records").fetchone()[0] == 0
        attributed = con.execute(
            "select message_id, type, user_id, context_group_id, "
            "json_extract_string(properties, '$.feature') from raw_product.events "
            "where message_id in (?, ?, ?) order by message_id",
            [
                f"amplitude:{fake._uid('amplitude', 7, 1)}",
                f"posthog:{fake._uid('posthog', 'batch')}",
                f"amplitude:{fake._uid('amplitude', 'multi')}",
            ],
        ).fetchall()
        assert attributed == sorted(
            [
                (f"amplitude:{fake._uid('amplitude', 7, 1)}", "track", "amp-user-0", "acc_003", "feature_1"),
                (f"amplitude:{fake._uid('amplitude', 'multi')}", "track", "amp-user-0", None, None),
                (f"posthog:{fake._uid('posthog', 'batch')}", "track", "ph-user-7", "acc_003", None),
            ]
        )
        groups = con.execute(
            "select split_part(message_id, ':', 1), count(*) from raw_product.events "
            "where type = 'track' and context_group_id in ('acc_001', 'acc_002', 'acc_003') group by 1"
        ).fetchall()
        assert {tool for tool, count in groups if count > 0} == set(TOOLS)
        unknown = con.execute(
            "select count(*) from raw_product.events where properties like ?", [f"%{fake.UNKNOWN_FIELD}%"]
        ).fetchone()[0]
        assert unknown == 3
    finally:
        con.close()
    # a pull of nothing new and a second landing change nothing
    for tool in TOOLS:
        assert pull(tool, server, drop, SECOND)["files"] == []
    again = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert again["files_loaded"] == []
