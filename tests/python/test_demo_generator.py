"""The demo company generator (pipelines.demo): determinism, shape of the file drop, bad records, truth.

Every check re-reads the files the generator wrote; small sizes keep the module to seconds.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.demo import BAD_RECORD_REASONS, generate
from pipelines.demo.crm import HEADERS

REPO = Path(__file__).resolve().parents[2]
PARAMS = {"accounts": 40, "days": 45, "seed": 7, "end_date": "2026-06-30", "progress": False}
KEY_EVENTS = {
    "report.created",
    "dashboard.viewed",
    "integration.connected",
    "workflow.automated",
    "alert.configured",
    "export.completed",
}
BAD_TIMESTAMPS = {"not-a-date", "2024-13-45T99:00:00Z"}


# -- helpers -----------------------------------------------------------------------------------
def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def event_lines(root: Path) -> list[tuple[str, bytes]]:
    """(file name, raw line) for every line of every daily events file, in delivery order."""
    out = []
    for path in sorted((root / "product" / "events").glob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).split(b"\n"):
            if line:
                out.append((path.name, line))
    return out


def parse_events(root: Path) -> tuple[list[dict], list[bytes], list[bytes]]:
    """(parsed messages in delivery order, their raw lines, unparseable lines)."""
    parsed, raw, broken = [], [], []
    for _, line in event_lines(root):
        try:
            parsed.append(json.loads(line))
            raw.append(line)
        except json.JSONDecodeError:
            broken.append(line)
    return parsed, raw, broken


def add_months(x: dt.datetime, months: int) -> dt.datetime:
    y, m = divmod(x.month - 1 + months, 12)
    return x.replace(year=x.year + y, month=m + 1, day=min(x.day, calendar.monthrange(x.year + y, m + 1)[1]))


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo_drops")
    out = {}
    for name, extra in {
        "a": {},
        "b": {},
        "seed8": {"seed": 8},
        "parquet": {"fmt": "parquet"},
        "clean": {"bad_records": False},
        "bigger": {"accounts": 80, "days": 60},
    }.items():
        generate(root / name, **{**PARAMS, **extra})
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def manifest(drops) -> dict:
    return json.loads((drops["a"] / "_manifest.json").read_text())


# -- determinism and scale -----------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files(drops):
    a, b = file_hashes(drops["a"]), file_hashes(drops["b"])
    assert len(a) > 50
    assert a == b


def test_different_seed_gives_different_files(drops):
    a, c = file_hashes(drops["a"]), file_hashes(drops["seed8"])
    assert a.keys() == c.keys()
    differing = [k for k in a if a[k] != c[k]]
    assert len(differing) >= len(a) - 2, "nearly every file should change with the seed"


def test_size_scales_with_accounts_and_days(drops, manifest):
    big = json.loads((drops["bigger"] / "_manifest.json").read_text())
    assert big["row_counts"]["crm/accounts.csv"] == 80
    assert manifest["row_counts"]["crm/accounts.csv"] == 40
    assert len(list((drops["bigger"] / "product" / "events").glob("*.jsonl.gz"))) == 60
    assert len(list((drops["a"] / "product" / "events").glob("*.jsonl.gz"))) == 45
    # Twice the accounts over 4/3 of the days: about 2.7x the events on average, but 40 accounts drawn
    # from log-uniform seat ranges vary a lot in size, so the bar leaves room for the draw.
    assert (
        big["row_counts"]["product/events/messages"] > 1.5 * manifest["row_counts"]["product/events/messages"]
    )


def test_parallel_workers_write_the_same_bytes(drops, tmp_path):
    """Each day draws from its own stream, so forked workers change speed, never content."""
    generate(tmp_path / "w3", **{**PARAMS, "workers": 3})
    assert file_hashes(tmp_path / "w3") == file_hashes(drops["a"])
    generate(tmp_path / "p3", **{**PARAMS, "fmt": "parquet", "workers": 3})
    assert file_hashes(tmp_path / "p3") == file_hashes(drops["parquet"])


def test_cli_writes_the_same_drop_as_the_api(drops, tmp_path):
    out = tmp_path / "cli"
    args = ["--out", str(out), "--accounts", "40", "--days", "45", "--seed", "7", "--end-date", "2026-06-30"]
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.demo", *args, "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert file_hashes(out) == file_hashes(drops["a"])


# -- shape of the drop -----------------------------------------------------------------------------
def test_every_file_kind_present_with_exact_csv_headers(drops):
    root = drops["a"]
    for name in ("customers", "subscriptions", "invoices"):
        assert (root / "billing" / f"{name}.jsonl").stat().st_size > 0
    assert list((root / "product" / "events").glob("*.jsonl.gz"))
    csv_paths = {
        "accounts": "crm/accounts.csv",
        "account_memberships": "product/account_memberships.csv",
        "cs_activities": "crm/cs_activities.csv",
        "nps_responses": "crm/nps_responses.csv",
        "support_tickets": "crm/support_tickets.csv",
        "health_overrides": "crm/health_overrides.csv",
    }
    expected = {
        "accounts": "account_id, name, domain, segment, industry, csm_owner, stripe_customer_id, created_at",
        "account_memberships": "user_id, account_id, role, valid_from, valid_to",
        "cs_activities": "activity_id, account_id, occurred_at, activity_type, is_automated, sentiment, "
        "author",
        "nps_responses": "response_id, account_id, respondent_email, score, submitted_at",
        "support_tickets": "ticket_id, account_id, opened_at, closed_at, priority, status",
        "health_overrides": "override_id, account_id, override_quadrant, override_score, note, author, "
        "created_at, expires_at",
    }
    for kind, rel in csv_paths.items():
        header, rows = read_csv(root / rel)
        assert header == expected[kind].split(", ") == HEADERS[kind], kind
        assert rows, kind


def test_csv_values_follow_the_interface(drops):
    root = drops["a"]
    _, accounts = read_csv(root / "crm" / "accounts.csv")
    assert {r["segment"] for r in accounts} <= {"smb", "mid_market", "enterprise"}
    assert all(r["account_id"].startswith("acc_") and len(r["account_id"]) == 9 for r in accounts)
    assert len({r["domain"] for r in accounts}) == len(accounts)
    for r in accounts:
        dt.datetime.fromisoformat(r["created_at"]).utcoffset()  # has an offset
        assert r["created_at"].endswith("+00:00")
    _, acts = read_csv(root / "crm" / "cs_activities.csv")
    assert {r["activity_type"] for r in acts} == {"call", "meeting", "qbr", "email", "note"}
    assert {r["is_automated"] for r in acts} == {"true", "false"}
    assert {r["sentiment"] for r in acts} <= {"positive", "neutral", "negative", ""}
    _, tickets = read_csv(root / "crm" / "support_tickets.csv")
    assert {r["status"] for r in tickets} == {"open", "closed"}
    assert all((r["closed_at"] == "") == (r["status"] == "open") for r in tickets)
    _, overrides = read_csv(root / "crm" / "health_overrides.csv")
    end = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    assert any(dt.datetime.fromisoformat(r["expires_at"]) < end for r in overrides), "some overrides expired"
    _, members = read_csv(root / "product" / "account_memberships.csv")
    for r in members:
        assert dt.date.fromisoformat(r["valid_from"])
        assert r["valid_to"] == "" or dt.date.fromisoformat(r["valid_to"]) > dt.date.fromisoformat(
            r["valid_from"]
        )


def test_events_use_the_vocabulary_and_identity_paths(drops):
    root = drops["bigger"]
    parsed, _, _ = parse_events(root)
    names = {m["event"] for m in parsed if m["type"] == "track"}
    assert names >= KEY_EVENTS
    assert {"feature_gate.hit", "quota.threshold_reached", "onboarding.milestone_completed"} <= names
    assert 30 <= len(names) <= 40
    assert {m["type"] for m in parsed} == {"track", "identify", "group", "page"}
    gates = {m["properties"]["feature"] for m in parsed if m.get("event") == "feature_gate.hit"}
    assert gates <= {"sso", "advanced_permissions", "api_access", "audit_log", "sandbox"}
    for m in parsed:
        if m.get("event") == "quota.threshold_reached":
            assert m["properties"]["quota"] in {"api_calls", "storage", "seats"}
            assert m["properties"]["threshold_pct"] in (80, 100)
        if m["type"] == "identify":
            assert "@" in m["traits"]["email"]
    # Anonymous pre-signup events are stitched by an identify carrying the same anonymousId.
    anon_only = {m["anonymousId"] for m in parsed if "anonymousId" in m and "userId" not in m}
    stitched = {m["anonymousId"] for m in parsed if m["type"] == "identify" and "anonymousId" in m}
    assert anon_only and anon_only <= stitched
    # Track events without context.groupId resolve by membership, group call or email domain (ghosts aside).
    _, members = read_csv(root / "product" / "account_memberships.csv")
    _, accounts = read_csv(root / "crm" / "accounts.csv")
    domains = {r["domain"] for r in accounts}
    member_users = {r["user_id"] for r in members}
    group_users = {m["userId"] for m in parsed if m["type"] == "group"}
    email_users = {
        m["userId"]
        for m in parsed
        if m["type"] == "identify" and m["traits"]["email"].split("@")[1] in domains
    }
    no_ctx = {m["userId"] for m in parsed if m["type"] == "track" and "context" not in m and "userId" in m}
    assert no_ctx <= member_users | group_users | email_users
    assert no_ctx & (group_users - member_users), "rule 3 (group call) must do real work"
    assert no_ctx & (email_users - member_users - group_users), "rule 4 (email domain) must do real work"
    share = sum(1 for m in parsed if m["type"] == "track" and "context" not in m) / sum(
        1 for m in parsed if m["type"] == "track"
    )
    assert 0.05 < share < 0.3
    # Users move between accounts: two membership periods that meet.
    periods = defaultdict(list)
    for r in members:
        periods[r["user_id"]].append(r)
    moves = [p for p in periods.values() if len(p) == 2]
    assert moves and all(
        p[0]["valid_to"] == p[1]["valid_from"] and p[0]["account_id"] != p[1]["account_id"] for p in moves
    )


# -- manifest and bad records ------------------------------------------------------------------------
def count_bad_records(root: Path) -> dict[str, int]:
    """Re-derive every injected bad record from the files alone."""
    counts = dict.fromkeys(BAD_RECORD_REASONS, 0)
    parsed, raw, broken = parse_events(root)
    counts["malformed_json"] = len(broken)
    first_line: dict[str, bytes] = {}
    for msg, line in zip(parsed, raw, strict=True):
        if msg["messageId"] in first_line:
            assert first_line[msg["messageId"]] == line, "a duplicate must be byte-identical"
            counts["duplicate_message_id"] += 1
        else:
            first_line[msg["messageId"]] = line
    unique = {json.loads(line)["messageId"]: json.loads(line) for line in first_line.values()}
    _, accounts = read_csv(root / "crm" / "accounts.csv")
    known = {r["account_id"] for r in accounts}
    counts["unparseable_timestamp"] = sum(1 for m in unique.values() if m["timestamp"] in BAD_TIMESTAMPS)
    ghosts = [m for m in unique.values() if m.get("context", {}).get("groupId", "acc_00001") not in known]
    counts["unknown_account"] = len(ghosts)
    _, members = read_csv(root / "product" / "account_memberships.csv")
    identified = {r["user_id"] for r in members} | {
        m["userId"] for m in unique.values() if m["type"] in ("identify", "group")
    }
    assert all(m["type"] == "track" and m["userId"] not in identified for m in ghosts)
    for inv in read_jsonl(root / "billing" / "invoices.jsonl"):
        for line in inv["lines"]["data"]:
            if line["amount"] < 0 and line["price"]["unit_amount"] < 0 and not line["proration"]:
                counts["negative_amount"] += 1
    _, nps = read_csv(root / "crm" / "nps_responses.csv")
    counts["nps_out_of_range"] = sum(1 for r in nps if not 0 <= int(r["score"]) <= 10)
    for name in ("support_tickets", "cs_activities"):
        _, rows = read_csv(root / "crm" / f"{name}.csv")
        counts["unknown_account_crm"] += sum(1 for r in rows if r["account_id"] not in known)
    return counts


def test_manifest_bad_record_counts_match_the_files(drops, manifest):
    found = count_bad_records(drops["a"])
    assert found == manifest["bad_records"]
    assert all(n > 0 for n in found.values()), found
    total = manifest["row_counts"]["product/events/lines"]
    assert sum(found.values()) < 0.02 * total, "bad records are a small share"


def test_manifest_row_counts_match_the_files(drops, manifest):
    root, counts = drops["a"], manifest["row_counts"]
    for rel in (
        "crm/accounts.csv",
        "crm/cs_activities.csv",
        "crm/nps_responses.csv",
        "crm/support_tickets.csv",
        "crm/health_overrides.csv",
        "product/account_memberships.csv",
    ):
        assert counts[rel] == len(read_csv(root / rel)[1]), rel
    for rel in ("billing/customers.jsonl", "billing/subscriptions.jsonl", "billing/invoices.jsonl"):
        assert counts[rel] == len(read_jsonl(root / rel)), rel
    parsed, _, broken = parse_events(root)
    assert counts["product/events/lines"] == len(parsed) + len(broken)
    unique = {m["messageId"]: m for m in parsed}
    assert counts["product/events/messages"] == len(unique)
    by_type = Counter(m["type"] for m in unique.values())
    for t in ("track", "identify", "group", "page"):
        assert counts[f"product/events/{t}"] == by_type[t]
    assert manifest["params"] == {
        "accounts": 40,
        "days": 45,
        "seed": 7,
        "end_date": "2026-06-30",
        "start_date": "2026-05-17",
        "format": "jsonl",
        "bad_records": True,
    }


def test_no_bad_records_gives_zero(drops):
    m = json.loads((drops["clean"] / "_manifest.json").read_text())
    assert m["bad_records"] == dict.fromkeys(BAD_RECORD_REASONS, 0)
    assert count_bad_records(drops["clean"]) == dict.fromkeys(BAD_RECORD_REASONS, 0)


def test_events_stay_inside_the_window(drops):
    for name, line in event_lines(drops["clean"]):
        msg = json.loads(line)
        ts = dt.datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00")).astimezone(dt.UTC)
        assert ts.date().isoformat() == name.removesuffix(".jsonl.gz")
        assert dt.date(2026, 5, 17) <= ts.date() <= dt.date(2026, 6, 30)


# -- parquet form ---------------------------------------------------------------------------------
def test_parquet_and_jsonl_carry_the_same_messages(drops):
    parsed, _, _ = parse_events(drops["a"])
    files = sorted((drops["parquet"] / "product" / "events").glob("*.parquet"))
    assert len(files) == 45
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    columns = list(pq.read_table(files[0]).column_names)
    assert columns == [
        "message_id",
        "type",
        "user_id",
        "anonymous_id",
        "event",
        "timestamp",
        "received_at",
        "context_group_id",
        "group_id",
        "properties",
        "traits",
    ]
    assert len(rows) == len(parsed), "same deliveries (duplicates included), minus malformed lines"

    def from_json(m: dict) -> tuple:
        return (
            m["messageId"],
            m["type"],
            m.get("userId"),
            m.get("anonymousId"),
            m.get("event"),
            m["timestamp"],
            m["receivedAt"],
            m.get("context", {}).get("groupId"),
            m.get("groupId"),
            json.dumps(m.get("properties"), sort_keys=True),
            json.dumps(m.get("traits"), sort_keys=True),
        )

    def from_parquet(r: dict) -> tuple:
        props = json.loads(r["properties"]) if r["properties"] is not None else None
        traits = json.loads(r["traits"]) if r["traits"] is not None else None
        return (
            r["message_id"],
            r["type"],
            r["user_id"],
            r["anonymous_id"],
            r["event"],
            r["timestamp"],
            r["received_at"],
            r["context_group_id"],
            r["group_id"],
            json.dumps(props, sort_keys=True),
            json.dumps(traits, sort_keys=True),
        )

    assert Counter(map(from_json, parsed)) == Counter(map(from_parquet, rows))


# -- billing -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def billing(drops) -> dict:
    root = drops["bigger"]
    return {
        "subs": read_jsonl(root / "billing" / "subscriptions.jsonl"),
        "invoices": read_jsonl(root / "billing" / "invoices.jsonl"),
        "customers": read_jsonl(root / "billing" / "customers.jsonl"),
        "truth": read_csv(root / "_truth" / "accounts.csv")[1],
        "accounts": read_csv(root / "crm" / "accounts.csv")[1],
    }


def test_billing_shapes(billing):
    subs, invoices = billing["subs"], billing["invoices"]
    intervals = {
        (i["price"]["recurring"]["interval"], i["price"]["recurring"]["interval_count"])
        for s in subs
        for i in s["items"]["data"]
    }
    assert {("month", 1), ("year", 1)} <= intervals
    kinds = {i["price"]["metadata"]["kind"] for s in subs for i in s["items"]["data"]}
    assert kinds == {"seat", "addon", "platform"}
    assert {s["status"] for s in subs} == {"active", "canceled"}
    statuses = Counter(inv["status"] for inv in invoices)
    assert statuses["paid"] > 0 and 0 < statuses["void"] < 0.1 * statuses["paid"]
    for inv in invoices:
        assert inv["id"].startswith("in_") and inv["customer"].startswith("cus_")
        for line in inv["lines"]["data"]:
            assert line["id"].startswith("il_") and {"start", "end"} <= line["period"].keys()
            assert line["price"]["id"].startswith("price_") and line["quantity"] >= 1
    seats = defaultdict(set)
    for inv in invoices:
        for line in inv["lines"]["data"]:
            if line["price"]["metadata"]["kind"] == "seat" and inv["status"] == "paid":
                seats[inv["subscription"]].add(line["quantity"])
    assert any(len(q) > 1 for q in seats.values()), "seat upgrades/downgrades happen"


def test_seat_prices_scale_by_segment(billing):
    cus_to_segment = {a["stripe_customer_id"]: a["segment"] for a in billing["accounts"]}
    unit = defaultdict(set)
    for s in billing["subs"]:
        for item in s["items"]["data"]:
            price = item["price"]
            if price["metadata"]["kind"] == "seat" and price["recurring"] == {
                "interval": "month",
                "interval_count": 1,
                "usage_type": "licensed",
            }:
                unit[cus_to_segment[s["customer"]]].add(price["unit_amount"])
    assert max(unit["smb"]) < min(unit["mid_market"])


def test_churned_accounts_have_all_subscriptions_ended(billing):
    cus = {a["account_id"]: a["stripe_customer_id"] for a in billing["accounts"]}
    subs_by_cus = defaultdict(list)
    for s in billing["subs"]:
        subs_by_cus[s["customer"]].append(s)
    churned = [t for t in billing["truth"] if t["churned"] == "true"]
    assert churned
    for t in billing["truth"]:
        subs = subs_by_cus[cus[t["account_id"]]]
        ended = [s["status"] == "canceled" and s["ended_at"] is not None for s in subs]
        if t["churned"] == "true":
            assert all(ended), t
            last_end = max(s["ended_at"] for s in subs)
            assert dt.datetime.fromtimestamp(last_end, dt.UTC).date().isoformat() == t["churn_date"]
        else:
            assert not all(ended), t
        if t["reactivated_on"]:
            assert len(subs) == 2


def test_every_billing_period_has_an_invoice(billing):
    end = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    lines_by_sub = defaultdict(list)
    for inv in billing["invoices"]:
        if inv["status"] != "paid":
            continue
        for line in inv["lines"]["data"]:
            if line["price"]["metadata"]["kind"] == "seat":
                lines_by_sub[inv["subscription"]].append(line)
    for s in billing["subs"]:
        periods = sorted((ln["period"]["start"], ln["period"]["end"]) for ln in lines_by_sub[s["id"]])
        assert periods, s["id"]
        assert periods[0][0] == s["start_date"]
        assert all(a[1] == b[0] for a, b in zip(periods, periods[1:], strict=False)), "no gaps, no overlaps"
        assert periods[-1] == (s["current_period_start"], s["current_period_end"])
        price = s["items"]["data"][0]["price"]["recurring"]
        months = price["interval_count"] * (12 if price["interval"] == "year" else 1)
        anchor = dt.datetime.fromtimestamp(s["start_date"], dt.UTC)
        for k, (_start, stop) in enumerate(periods):
            assert dt.datetime.fromtimestamp(stop, dt.UTC) == add_months(anchor, (k + 1) * months)
        if s["status"] == "active":
            assert s["current_period_start"] < end.timestamp() <= s["current_period_end"]
        else:
            assert s["ended_at"] == s["current_period_end"] <= end.timestamp()


# -- ground truth drives behaviour -----------------------------------------------------------------
def test_churned_accounts_stop_using_the_product(drops, billing):
    parsed, _, _ = parse_events(drops["bigger"])
    last_seen: dict[str, str] = {}
    for m in parsed:
        acc = m.get("context", {}).get("groupId")
        if m["type"] == "track" and acc and m["timestamp"] not in BAD_TIMESTAMPS:
            last_seen[acc] = max(last_seen.get(acc, ""), m["timestamp"][:10])
    for t in billing["truth"]:
        if t["churned"] == "true" and t["account_id"] in last_seen:
            assert last_seen[t["account_id"]] <= t["churn_date"], t


def test_going_quiet_accounts_mostly_churn_and_thriving_mostly_renew(tmp_path):
    manifest = generate(tmp_path, accounts=150, days=200, seed=3, end_date="2026-06-30", progress=False)
    assert manifest["churned_accounts"] > 0
    _, truth = read_csv(tmp_path / "_truth" / "accounts.csv")
    subs = read_jsonl(tmp_path / "billing" / "subscriptions.jsonl")
    renews_before_end = {}
    for s in subs:
        renews_before_end[s["metadata"]["account_id"]] = (
            s["current_period_end"] <= dt.datetime(2026, 7, 1, tzinfo=dt.UTC).timestamp()
            or s["status"] == "canceled"
        )
    quiet = [t for t in truth if t["trajectory"] == "going_quiet" and t["quiet_from"]]
    # Quiet for 21+ days before a renewal inside the window: most churned (or have cancelled).
    decided = [t for t in quiet if t["churned"] == "true" or t["first_churn_date"]]
    assert len(decided) >= 0.5 * len([t for t in quiet if t["quiet_from"] < "2026-05-01"])
    healthy = [t for t in truth if t["trajectory"] in ("thriving", "stable")]
    assert sum(t["churned"] == "true" for t in healthy) <= 0.1 * len(healthy)
    churn_rate = {
        k: sum(t["churned"] == "true" for t in truth if t["trajectory"] == k)
        / max(1, sum(t["trajectory"] == k for t in truth))
        for k in ("thriving", "going_quiet")
    }
    assert churn_rate["going_quiet"] > 3 * churn_rate["thriving"]
