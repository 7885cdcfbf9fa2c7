"""`account-health features` on a real published warehouse, and the run summary's checks.

The warehouse is the app tests' demo warehouse (test_app_support: built once per process, nothing
mocked); every expected figure is read independently from the staged events or the marts. The
proposal rules are also checked on hand-made taxonomy rows, where the expected weights are worked
out by hand.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from test_app_support import REPO_ROOT, copy_warehouse, demo_warehouse, query

from pipelines import features
from pipelines.cli import main
from pipelines.config import FeatureProposalRules

SEED = REPO_ROOT / "seeds" / "key_features.csv"


@pytest.fixture
def key_features_file(tmp_path) -> Path:
    path = tmp_path / "key_features.csv"
    shutil.copy2(SEED, path)
    return path


def run_features(capsys, *args: str) -> tuple[int, str]:
    code = main(["features", "--warehouse", str(demo_warehouse()), *args])
    return code, capsys.readouterr().out


def test_every_track_event_is_listed_with_counts_from_the_staged_events(capsys, key_features_file):
    code, out = run_features(capsys, "--key-features", str(key_features_file))
    assert code == 0, out
    expected = query(
        "select event_name, count(*) as events, count(distinct account_id) as accounts "
        "from intermediate.int_events_matched_to_account_rules where message_type = 'track' "
        "and event_name is not null group by 1"
    )
    assert len(expected) > 5
    lines = out.splitlines()
    for row in expected.itertuples(index=False):
        line = next((x for x in lines if x.startswith(f"  {row.event_name} ")), None)
        assert line is not None, row.event_name
        assert f"{row.events:,}" in line.split()
        assert f"{row.accounts:,}" in line.split()


def test_configured_key_features_and_milestone_are_found(capsys, key_features_file):
    _, out = run_features(capsys, "--key-features", str(key_features_file))
    configured = list(csv.DictReader(key_features_file.open()))
    assert f"{len(configured)} of {len(configured)} found in the events" in out
    for row in configured:
        line = next(x for x in out.splitlines() if x.strip().startswith(row["feature_name"] + " "))
        assert row["event_name"] in line and "found (" in line
    assert "activation milestone (dbt var activation_milestone): first_report" in out
    milestone_line = next(x for x in out.splitlines() if x.startswith("activation milestone"))
    assert "found (" in milestone_line


def test_a_key_feature_the_events_never_carry_is_not_found(capsys, tmp_path):
    path = tmp_path / "key_features.csv"
    path.write_text("feature_name,event_name,weight\nreports,report.created,0.5\nghost,ghost.event,0.5\n")
    _, out = run_features(capsys, "--key-features", str(path))
    assert "1 of 2 found in the events" in out
    ghost = next(x for x in out.splitlines() if x.strip().startswith("ghost "))
    assert "NOT FOUND" in ghost


def test_json_holds_every_event_and_the_cross_quadrant_view(capsys, key_features_file, tmp_path):
    target = tmp_path / "out" / "features.json"
    code, _ = run_features(capsys, "--key-features", str(key_features_file), "--json", str(target))
    assert code == 0
    report = json.loads(target.read_text())
    mart = query("select * from marts.mart_event_taxonomy")
    assert {row["event_name"] for row in report["events"]} == set(mart["event_name"])
    by_name = {row["event_name"]: row for row in report["events"]}
    for row in mart.itertuples(index=False):
        assert by_name[row.event_name]["used_accounts"] == row.used_accounts
        assert by_name[row.event_name]["not_used_renewed_accounts"] == row.not_used_renewed_accounts
    champions = query(
        "select event_name from marts.mart_event_usage_by_quadrant where quadrant = 'Champions' "
        "and usage_rate_gap > 0 order by usage_rate_gap desc, using_accounts desc, event_name limit 5"
    )
    assert [r["event_name"] for r in report["champions_use_more"]] == list(champions["event_name"])
    frustrated = query(
        "select event_name from marts.mart_event_usage_by_quadrant where quadrant = 'Frustrated Power Users' "
        "and using_accounts > 0 order by usage_rank limit 5"
    )
    assert [r["event_name"] for r in report["frustrated_power_users_use_most"]] == list(
        frustrated["event_name"]
    )
    assert report["decided_renewals"] == int(mart["outcome_accounts"].iloc[0])


def test_write_shows_the_diff_keeps_a_backup_and_is_idempotent(capsys, key_features_file):
    before = key_features_file.read_text()
    code, out = run_features(capsys, "--key-features", str(key_features_file), "--write")
    assert code == 0, out
    written = list(csv.DictReader(key_features_file.open()))
    assert written, out
    assert sum(float(row["weight"]) for row in written) == pytest.approx(1.0)
    assert all(float(row["weight"]) > 0 for row in written)
    known = set(
        query(
            "select event_name from marts.mart_event_taxonomy where event_role not in "
            "('milestone', 'feature_gate', 'quota_threshold')"
        )["event_name"]
    )
    assert {row["event_name"] for row in written} <= known
    backup = key_features_file.with_name("key_features.csv.bak")
    if key_features_file.read_text() != before:
        assert backup.read_text() == before
        assert f"--- {key_features_file} (before)" in out and f"+++ {key_features_file} (written)" in out
        assert "previous file kept as" in out
    code, again = run_features(capsys, "--key-features", str(key_features_file), "--write")
    assert code == 0
    assert "unchanged" in again


def test_nothing_published_is_a_clear_error(capsys, tmp_path):
    code = main(["features", "--warehouse", str(tmp_path / "nowhere" / "health.duckdb")])
    out = capsys.readouterr().out
    assert code == 1
    assert "no published warehouse" in out and "account-health run" in out


def test_a_warehouse_without_the_taxonomy_asks_for_a_run(capsys, tmp_path):
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()
    code = main(["features", "--warehouse", str(old)])
    out = capsys.readouterr().out
    assert code == 1
    assert "mart_event_taxonomy" in out and "account-health run" in out


# ------------------------------------------------------------------------------------ summary
def test_summary_says_when_no_configured_key_feature_appears(tmp_path):
    warehouse = copy_warehouse(tmp_path / "copy.duckdb")
    assert features.describe_key_feature_coverage(
        features.collect_key_feature_coverage(warehouse)
    ).startswith("key features: all ")
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute("delete from staging.key_features")
        connection.execute(
            "insert into staging.key_features values "
            "('a', 'a.seen_nowhere', 0.5), ('b', 'b.seen_nowhere', 0.5)"
        )
    finally:
        connection.close()
    line = features.describe_key_feature_coverage(features.collect_key_feature_coverage(warehouse))
    assert line.startswith(
        "key features: none of the 2 configured events appear in the events; adoption and depth"
    )
    assert "`account-health features --write`" in line


def test_summary_alert_rates_are_the_mart_of_the_latest_months():
    rates = features.collect_alert_rates(demo_warehouse(), months=2)
    mart = query(
        "select cast(month_start as varchar) as month, alert_type, alerted_accounts, alerted_account_share "
        "from marts.mart_alerts_monthly where month_start in "
        "(select distinct month_start from marts.mart_alerts_monthly order by 1 desc limit 2)"
    )
    assert len(rates["months"]) == 2
    for row in mart.itertuples(index=False):
        assert rates["rates"][row.alert_type][row.month] == (
            row.alerted_accounts,
            pytest.approx(row.alerted_account_share),
        )
    lines = features.describe_alert_rates(rates)
    assert lines[0].startswith("alerts per month")
    for alert_type in set(mart["alert_type"]):
        assert any(line.strip().startswith(alert_type) for line in lines)


# ----------------------------------------------------------------------------------- proposal
def _event(name, accounts, used=0, used_renewed=0, not_used=0, not_used_renewed=0, lift=None, role="other"):
    return {
        "event_name": name,
        "event_role": role,
        "events": accounts * 10,
        "accounts": accounts,
        "outcome_accounts": used + not_used,
        "used_accounts": used,
        "used_renewed_accounts": used_renewed,
        "not_used_accounts": not_used,
        "not_used_renewed_accounts": not_used_renewed,
        "renewal_rate_lift": lift,
    }


def test_proposal_weighs_by_renewal_lift_with_enough_renewals():
    # 40 decided renewals, 12 churned (28 renewed: used_renewed + not_used_renewed on every row)
    rows = [
        _event("report.created", 30, 20, 19, 20, 9, 0.50),  # 0.95 vs 0.45: z = 0.5 / 0.145 = 3.45
        _event("export.completed", 25, 10, 10, 30, 18, 0.40),  # 1.0 vs 0.6: z = 0.4 / 0.167 = 2.39
        _event("faint.event", 25, 10, 8, 30, 20, 0.8 - 2 / 3),  # 0.8 vs 0.67: z = 0.8, noise
        _event("noise.event", 20, 4, 4, 36, 24, 1 / 3),  # used by 4 < 10: left out
        _event("login", 40, 40, 28, 0, 0, None),  # no non-users: no lift
        _event("milestone", 30, 20, 20, 20, 8, 0.6, role="milestone"),  # not a feature
        _event("worse.event", 30, 20, 12, 20, 16, -0.2),
    ]
    proposal = features.propose(
        rows, 40, [features.KeyFeature("reports", "report.created", 0.25)], FeatureProposalRules()
    )
    assert proposal.basis == "renewal_lift"
    # 0.5 / 0.9 = 0.556 -> 0.56; 0.4 / 0.9 = 0.444 -> 0.44
    assert [(f.feature_name, f.event_name, f.weight) for f in proposal.features] == [
        ("reports", "report.created", 0.56),
        ("export_completed", "export.completed", 0.44),
    ]
    assert features.lift_z(rows[0]) == pytest.approx(0.5 / (0.7 * 0.3 * (1 / 20 + 1 / 20)) ** 0.5)


def test_proposal_by_lift_leaves_out_an_event_nearly_every_account_sends():
    # 40 decided renewals, 12 churned; `Signed In` before 39 of them (over 95%): its lift only says
    # that active accounts renew
    rows = [
        _event("Signed In", 40, 39, 28, 1, 0, 28 / 39),
        _event("report.created", 30, 20, 19, 20, 9, 0.50),
    ]
    rules = FeatureProposalRules(min_group_accounts=1, min_lift_z=0)
    proposal = features.propose(rows, 40, [], rules)
    assert proposal.basis == "renewal_lift"
    assert [(f.event_name, f.weight) for f in proposal.features] == [("report.created", 1.0)]


def test_proposal_falls_back_to_adoption_and_skips_ubiquitous_events():
    # 10 decided renewals: too few for lift
    rows = [
        _event("Session Started", 100, 10, 8, 0, 0),  # every account: tells none apart
        _event("report.created", 60, 6, 5, 4, 3, 0.083),
        _event("dashboard.viewed", 30, 3, 3, 7, 5),
        _event("rare.event", 4),  # under 5% of 100 accounts
        _event("paywall.hit", 50, role="feature_gate"),
    ]
    proposal = features.propose(rows, 100, [], FeatureProposalRules())
    assert proposal.basis == "adoption"
    assert "needs at least 30 decided renewals and 10 churns" in proposal.reason
    # 60 / 90 = 0.67, 30 / 90 = 0.33
    assert [(f.feature_name, f.weight) for f in proposal.features] == [
        ("report_created", 0.67),
        ("dashboard_viewed", 0.33),
    ]


def test_weights_are_hundredths_that_never_favour_a_smaller_score():
    # six near-equal shares: 16.67 each -> four 0.17 and two 0.16, the larger scores first
    weights = features._normalised([("a", 61), ("b", 60), ("c", 60), ("d", 60), ("e", 60), ("f", 59)])
    assert [w for _, w in weights] == [0.17, 0.17, 0.17, 0.17, 0.16, 0.16]
    # a tiny score still gets 0.01, taken from the largest
    weights = features._normalised([("big", 1000), ("tiny", 1)])
    assert weights == [("big", 0.99), ("tiny", 0.01)]


def test_proposal_without_events_writes_nothing(tmp_path):
    proposal = features.propose([], 10, [], FeatureProposalRules())
    assert proposal.basis == "none" and proposal.features == []
    with pytest.raises(features.FeaturesError):
        features.write_key_features(tmp_path / "key_features.csv", proposal.features)
    assert not (tmp_path / "key_features.csv").exists()
