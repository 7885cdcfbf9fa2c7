"""examples/ravenstack: a company nobody here shaped, through the adapter and `account-health run`.

The RavenStack synthetic SaaS dataset (by River @ Rivalytics; ../shared/fixtures/ravenstack-saas-churn)
is turned into a file drop by examples/ravenstack/adapt.py, then run end to end with no overrides,
memberships, NPS or CS activities (RavenStack has none). What is asserted comes from the dataset's
own CSVs, not from constants: 500 accounts, and ARR = active mrr_amount x 12.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_support import cli_env

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = REPO_ROOT.parent / "shared" / "fixtures" / "ravenstack-saas-churn"
ADAPTER = REPO_ROOT / "examples" / "ravenstack" / "adapt.py"
CLI = [sys.executable, "-m", "pipelines.cli"]
# RavenStack's data ends on 2024-12-31.
AS_OF = "2024-12-31"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (FIXTURE / "data" / "ravenstack_accounts.csv").is_file(),
        reason=f"the RavenStack dataset is not at {FIXTURE}",
    ),
]


def _adapt(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ADAPTER), "--fixture", str(FIXTURE), "--out", str(out)],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _query(path: Path, sql: str):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _fixture_rows(name: str) -> list[dict[str, str]]:
    with (FIXTURE / "data" / f"ravenstack_{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def ravenstack(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ravenstack")
    drop = root / "drop"
    adapted = _adapt(drop)
    assert adapted.returncode == 0, adapted.stdout + adapted.stderr
    warehouse = root / "wh" / "health.duckdb"
    result = subprocess.run(
        [*CLI, "run", "--source-dir", str(drop), "--warehouse", str(warehouse), "--as-of", AS_OF],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return {"root": root, "drop": drop, "warehouse": warehouse, "result": result}


def _published(ravenstack: dict) -> Path:
    result = ravenstack["result"]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
    assert f"published: {ravenstack['warehouse']}" in result.stdout
    return ravenstack["warehouse"]


def test_drop_follows_the_contract_layout_and_is_deterministic(ravenstack, tmp_path):
    drop = ravenstack["drop"]
    files = set(_tree_digest(drop))
    assert {"crm/accounts.csv", "crm/support_tickets.csv", "billing/customers.jsonl"} <= files
    assert {"billing/subscriptions.jsonl", "billing/invoices.jsonl"} <= files
    assert any(name.startswith("product/events/") and name.endswith(".jsonl") for name in files)
    # RavenStack has no NPS, CS activities or overrides: nothing is invented for them.
    for absent in ("crm/health_overrides.csv", "crm/nps_responses.csv", "crm/cs_activities.csv"):
        assert absent not in files
    with (drop / "crm" / "accounts.csv").open(newline="", encoding="utf-8") as handle:
        segments = {row["segment"] for row in csv.DictReader(handle)}
    assert segments <= {"smb", "mid_market", "enterprise"}
    first = json.loads((drop / "product" / "events" / "2024-01.jsonl").read_text().splitlines()[0])
    assert first["type"] == "track" and first["context"]["groupId"].startswith("A-")

    again = tmp_path / "again"
    assert _adapt(again).returncode == 0
    assert _tree_digest(again) == _tree_digest(drop)


def test_run_publishes_every_ravenstack_account(ravenstack):
    warehouse = _published(ravenstack)
    expected = {row["account_id"] for row in _fixture_rows("accounts")}
    published = {row[0] for row in _query(warehouse, "select account_id from marts.dim_accounts")}
    assert len(expected) == 500
    assert published == expected
    # The inputs RavenStack does not have are named as missing, not invented.
    missing = ravenstack["result"].stdout.split("inputs missing or empty:")[1].split("rows landed:")[0]
    for name in ("crm/nps_responses.csv", "crm/cs_activities.csv", "crm/health_overrides.csv"):
        assert name in missing, missing


def test_arr_is_active_mrr_times_twelve(ravenstack):
    warehouse = _published(ravenstack)
    active_mrr = sum(
        Decimal(row["mrr_amount"]) for row in _fixture_rows("subscriptions") if not row["end_date"].strip()
    )
    total_arr = _query(warehouse, "select cast(sum(arr) as decimal(38, 2)) from marts.dim_accounts")[0][0]
    assert Decimal(total_arr) == active_mrr * 12


def test_rejected_records_exist_and_are_explained(ravenstack):
    warehouse = _published(ravenstack)
    rows = _query(
        warehouse,
        "select reason, count(*), count(*) filter (where record_key is null or raw_payload is null) "
        "from quality.rejected_records group by reason order by reason",
    )
    assert rows, "nothing rejected, though RavenStack repeats usage_ids with other content"
    unexplained = {reason: n for reason, _, n in rows if n}
    assert all(reason for reason, _, _ in rows), rows
    assert not unexplained, f"rejections without a key or payload: {unexplained}"
    # RavenStack repeats some usage_ids (the messageId) with other content: each later copy is rejected.
    usage_ids = [row["usage_id"] for row in _fixture_rows("feature_usage")]
    repeated = len(usage_ids) - len(set(usage_ids))
    reasons = {reason: count for reason, count, _ in rows}
    duplicates = sum(count for reason, count in reasons.items() if "duplicate" in reason)
    assert duplicates >= repeated > 0, reasons
    summary = ravenstack["result"].stdout.split("records rejected:")[1].split("reconciliation")[0]
    for reason in reasons:
        assert reason in summary, f"{reason} is not in the run summary"


def test_ravenstack_inconsistencies_are_reported_as_findings(ravenstack):
    """Overlapping subscriptions and usage with no subscription running are passed through by the
    adapter; the warehouse reports them in quality.data_findings (not as rejections)."""
    warehouse = _published(ravenstack)
    findings = dict(_query(warehouse, "select finding_type, count(*) from quality.data_findings group by 1"))
    # Pairs of one account's subscriptions that run on at least one common day: [start, end), a live
    # subscription running through the as-of date.
    live_until = dt.date.fromisoformat(AS_OF) + dt.timedelta(days=1)
    spans: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for row in _fixture_rows("subscriptions"):
        start = dt.date.fromisoformat(row["start_date"])
        end = dt.date.fromisoformat(row["end_date"]) if row["end_date"].strip() else live_until
        spans.setdefault(row["account_id"], []).append((start, end))
    overlapping = sum(
        1
        for subs in spans.values()
        for i, (a_start, a_end) in enumerate(subs)
        for b_start, b_end in subs[i + 1 :]
        if max(a_start, b_start) < min(a_end, b_end)
    )
    assert overlapping > 0
    assert findings.get("overlapping_subscriptions") == overlapping, findings
    assert findings.get("usage_outside_subscription", 0) > 0, findings
    assert "data findings:" in ravenstack["result"].stdout


def test_ravenstack_features_lists_its_own_events_and_the_summary_names_the_gap(ravenstack, tmp_path):
    """RavenStack sends `feature_N.used`, none of the demo's key features: the run summary says so
    in one line with the remedy, `features` lists RavenStack's events with their staged counts, and
    `--write` configures key features from them."""
    warehouse = _published(ravenstack)
    seed = REPO_ROOT / "seeds" / "key_features.csv"
    configured = list(csv.DictReader(seed.open()))
    out = ravenstack["result"].stdout
    assert f"key features: none of the {len(configured)} configured events appear in the events" in out
    assert "account-health features --write" in out
    # no health is judged on RavenStack as it is (too_few_signals), so no month is scored yet
    assert "alerts per month: no scored month yet" in out

    key_features = tmp_path / "key_features.csv"
    key_features.write_bytes(seed.read_bytes())
    result = subprocess.run(
        [*CLI, "features", "--warehouse", str(warehouse), "--key-features", str(key_features), "--write"],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    staged = _query(
        warehouse,
        "select event_name, count(*) from intermediate.int_events_matched_to_account_rules "
        "where message_type = 'track' group by 1",
    )
    features = {row["feature_name"] for row in _fixture_rows("feature_usage")}
    assert {name for name, _ in staged} == {f"{feature}.used" for feature in features}
    lines = result.stdout.splitlines()
    for name, count in staged:
        line = next(x for x in lines if x.startswith(f"  {name} "))
        assert f"{count:,}" in line.split()
    assert f"0 of {len(configured)} found in the events" in result.stdout
    written = list(csv.DictReader(key_features.open()))
    assert written and {row["event_name"] for row in written} <= {name for name, _ in staged}
    assert sum(float(row["weight"]) for row in written) == pytest.approx(1.0)
    assert key_features.with_name("key_features.csv.bak").read_bytes() == seed.read_bytes()


def test_scores_read_only_what_ravenstack_can_tell(ravenstack):
    """RavenStack's events name none of the shipped key features and no user, and it has no NPS or CS
    touch: adoption and depth are unknown (not 0), a health score read from recency alone is not
    judged (too_few_signals), and no alert type fires for more than half of the accounts in a month
    (before: declining_3_weeks for all 500 accounts, 493 of 500 at risk)."""
    warehouse = _published(ravenstack)
    ((seen, configured),) = _query(
        warehouse, "select count(*) filter (where is_seen), count(*) from intermediate.int_key_features_seen"
    )
    assert configured > 0 and seen == 0
    ((adoption_known, depth_known, at_risk, accounts),) = _query(
        warehouse,
        "select count(adoption_score), count(depth_score), count(*) filter (where is_at_risk), count(*) "
        "from marts.dim_accounts",
    )
    assert (adoption_known, depth_known, accounts) == (0, 0, 500)
    assert at_risk < accounts / 2, f"{at_risk} of {accounts} at risk"
    crowded = _query(
        warehouse,
        "select alert_type, date_trunc('month', alerted_on) as month, count(distinct account_id) "
        f"from marts.fct_health_alerts group by 1, 2 having count(distinct account_id) > {accounts / 2} "
        "order by 1, 2",
    )
    assert not crowded, crowded
    # every account was active at some point: last_active_at counts its anonymous events
    ((never_active,),) = _query(
        warehouse, "select count(*) from marts.dim_accounts where last_active_at is null"
    )
    assert never_active == 0
