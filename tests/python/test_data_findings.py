"""Data findings (quality.data_findings) counted in the run summary, on a hand-made drop.

The drop is tests/python/fixtures/drop_small plus a few records that each make one finding, so the
expected counts below are worked out by hand: `account-health run` lands it, builds every model
with the warehouse's own dbt project, and prints the `data findings:` block; pipelines.publish's
collect_findings reads the same counts from the built warehouse.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dbt_support import cli_env

from pipelines import cli
from pipelines import publish as wap
from pipelines.runlog import RunRecord

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DROP = Path(__file__).parent / "fixtures" / "drop_small"
CLI = [sys.executable, "-m", "pipelines.cli"]

pytestmark = pytest.mark.slow

# as_of_date is the drop's latest event date, 2024-05-04 (msg_012).
EXPECTED = {
    # sub_1 (2024-01-15, running) and the added sub_1b (2024-05-02, running) of acc_00001: 3 days
    "overlapping_subscriptions": 1,
    # the added acc_00005 (cus_A5) used the product on 2024-05-03, after its only subscription ended
    # (2024-04-01); acc_00002 has no finding: Stripe's record of cus_A2 is rejected, so its billing
    # is unknown
    "usage_outside_subscription": 1,
    # the added cus_Z9: an active subscription and a paid invoice, named by no account
    "stripe_customer_without_account": 1,
    # dashboard.viewed, integration.connected and alert.configured: never in a staged event (the
    # drop's dashboard and alert events are rejected); report, export and workflow events are staged
    "key_feature_not_seen": 3,
}

# unix seconds, UTC
FEB_01_2024 = 1706745600
MAY_02_2024 = 1714608000
APR_01_2024 = 1711929600
JUN_01_2024 = 1717200000


def _price(price_id: str, unit_amount: int, kind: str) -> dict:
    return {
        "id": price_id,
        "object": "price",
        "currency": "usd",
        "product": f"prod_{kind}",
        "type": "recurring",
        "unit_amount": unit_amount,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "metadata": {"kind": kind},
    }


def _subscription(
    sub_id: str, customer: str, start: int, items: list[tuple[str, int, dict]], ended: int | None = None
) -> dict:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": "active" if ended is None else "canceled",
        "currency": "usd",
        "created": start,
        "start_date": start,
        "current_period_start": start,
        "current_period_end": JUN_01_2024 if ended is None else ended,
        "cancel_at_period_end": False,
        "canceled_at": ended,
        "ended_at": ended,
        "items": {
            "object": "list",
            "data": [
                {"id": item_id, "object": "subscription_item", "quantity": quantity, "price": price}
                for item_id, quantity, price in items
            ],
        },
    }


def _append_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def make_drop(root: Path) -> Path:
    drop = root / "drop"
    shutil.copytree(FIXTURE_DROP, drop)
    with open(drop / "crm" / "accounts.csv", "a", encoding="utf-8") as handle:
        handle.write("acc_00005,Hooli,hooli.example,smb,Software,Bob Lin,cus_A5,2024-01-02T00:00:00Z\n")
    _append_jsonl(
        drop / "billing" / "customers.jsonl",
        [
            {
                "id": "cus_Z9",
                "object": "customer",
                "name": "Zeta Ltd",
                "email": "owner@zeta.example",
                "currency": "usd",
                "created": APR_01_2024,
                "metadata": {},
            },
            {"id": "cus_A5", "object": "customer", "currency": "usd", "created": FEB_01_2024, "metadata": {}},
        ],
    )
    seat = _price("price_seat_z", 10000, "seat")
    _append_jsonl(
        drop / "billing" / "subscriptions.jsonl",
        [
            _subscription(
                "sub_1b", "cus_A1", MAY_02_2024, [("si_1c", 1, _price("price_addon", 5000, "addon"))]
            ),
            _subscription("sub_9", "cus_Z9", APR_01_2024, [("si_9a", 2, seat)]),
            _subscription("sub_5", "cus_A5", FEB_01_2024, [("si_5a", 1, seat)], ended=APR_01_2024),
        ],
    )
    line = {
        "id": "il_9a",
        "object": "line_item",
        "amount": 20000,
        "currency": "usd",
        "period": {"start": APR_01_2024, "end": MAY_02_2024},
        "price": seat,
        "proration": False,
        "quantity": 2,
        "subscription": "sub_9",
        "subscription_item": "si_9a",
        "type": "subscription",
    }
    _append_jsonl(
        drop / "billing" / "invoices.jsonl",
        [
            {
                "id": "in_9",
                "object": "invoice",
                "customer": "cus_Z9",
                "subscription": "sub_9",
                "status": "paid",
                "currency": "usd",
                "total": 20000,
                "amount_paid": 20000,
                "created": APR_01_2024,
                "period_start": APR_01_2024,
                "period_end": MAY_02_2024,
                "lines": {"object": "list", "has_more": False, "data": [line]},
            }
        ],
    )
    _append_jsonl(
        drop / "product" / "events" / "part-0004.jsonl",
        [
            {
                "messageId": "msg_101",
                "type": "track",
                "userId": "usr_000009",
                "event": "report.created",
                "timestamp": "2024-05-03T09:00:00Z",
                "receivedAt": "2024-05-03T09:00:01Z",
                "context": {"groupId": "acc_00005"},
                "properties": {},
            }
        ],
    )
    return drop


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The drop built once with `account-health build` (load, dbt build, quality; no audit)."""
    root = tmp_path_factory.mktemp("findings")
    drop = make_drop(root)
    warehouse = root / "wh" / "health.duckdb"
    commands = [
        ["load", "--source-dir", str(drop), "--warehouse", str(warehouse)],
        # pinned to the drop's latest event date (a replay: 2024 data is not stale); the drop is
        # mostly bad records on purpose
        ["build", "--warehouse", str(warehouse), "--as-of", "2024-05-04", "--max-rejected-share", "0.5"],
    ]
    for args in commands:
        result = subprocess.run(
            [*CLI, *args], cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=1200, check=False
        )
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    candidate = warehouse.with_name("health.candidate.duckdb")
    return {"root": root, "candidate": candidate, "stdout": result.stdout}


def _findings(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select finding_type, account_id, subject, detail, affected_days, arr "
            "from quality.data_findings order by finding_type, subject"
        ).fetchall()
    finally:
        con.close()


def test_collect_findings_counts_each_kind_of_the_built_warehouse(built):
    assert wap.collect_findings(built["candidate"]) == dict(
        sorted(EXPECTED.items(), key=lambda item: (-item[1], item[0]))
    )


def test_each_finding_names_its_subject_and_numbers(built):
    rows = {(row[0], row[2]): row for row in _findings(built["candidate"])}
    overlap = rows[("overlapping_subscriptions", "sub_1 + sub_1b")]
    assert overlap[1] == "acc_00001" and overlap[4] == 3
    assert "2024-05-02 to 2024-05-04 (still running)" in overlap[3]
    outside = rows[("usage_outside_subscription", "acc_00005")]
    assert outside[4] == 1 and "from 2024-05-03 to 2024-05-03" in outside[3]
    unlinked = rows[("stripe_customer_without_account", "cus_Z9")]
    assert unlinked[1] is None and float(unlinked[5]) == 2400.0
    assert "ARR 2400.00 (MRR 200.00)" in unlinked[3] and "200.00 invoiced in 1" in unlinked[3]
    assert {subject for kind, subject in rows if kind == "key_feature_not_seen"} == {
        "alerts",
        "dashboards",
        "integrations",
    }
    # ids only: the customer's e-mail and name stay in staging
    assert not any("zeta" in row[3].lower() for row in rows.values())


def test_the_build_summary_prints_the_findings_under_the_rejections(built):
    out = built["stdout"]
    assert "records rejected:" in out
    header, *following = out.split("data findings:")[1].splitlines()
    assert out.index("records rejected:") < out.index("data findings:")
    # the block is the indented lines under its header; the next summary section starts unindented
    block = []
    for line in following:
        if not line.startswith("  "):
            break
        block.append(line)
    counts = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in block}
    assert counts == EXPECTED
    assert header.strip().startswith(f"{sum(EXPECTED.values())} ")


def test_collect_findings_is_none_when_not_built(tmp_path):
    assert wap.collect_findings(tmp_path / "absent.duckdb") is None
    bare = tmp_path / "bare.duckdb"
    con = duckdb.connect(str(bare))
    con.execute("create schema quality; create table quality.rejected_records (reason varchar)")
    con.close()
    assert wap.collect_findings(bare) is None


def test_summary_prints_no_findings_block_when_not_built_and_zero_when_none(caplog):
    settings = type("S", (), {"max_rejected_share": 0.05, "warehouse": Path("w.duckdb")})()
    record = RunRecord(run_id="r", command="build", outcome="built")
    with caplog.at_level(logging.INFO, logger=cli.summary_log.name):
        cli._print_summary(settings, record)
    assert "data findings" not in caplog.text
    caplog.clear()
    record.findings_by_type = {}
    with caplog.at_level(logging.INFO, logger=cli.summary_log.name):
        cli._print_summary(settings, record)
    assert "data findings: 0" in caplog.text
