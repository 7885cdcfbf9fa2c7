"""What a run does with the drop it is given: required and optional inputs, freshness on the data's
own time, and no demo company where a real company's data was expected (CONTRACT 1a, section 4)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_support import cli_env

from pipelines.cli import demo_allowed
from pipelines.config import load_settings
from pipelines.inputs import EMPTY, INPUTS, MISSING, PRESENT, MissingInputs, check, inventory

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]

ACCOUNTS_HEADER = "account_id,name,domain,segment,industry,csm_owner,stripe_customer_id,created_at"
OPTIONAL_HEADERS = {
    "product/account_memberships.csv": "user_id,account_id,role,valid_from,valid_to",
    "crm/cs_activities.csv": "activity_id,account_id,occurred_at,activity_type,is_automated,sentiment,author",
    "crm/nps_responses.csv": "response_id,account_id,respondent_email,score,submitted_at",
    "crm/support_tickets.csv": "ticket_id,account_id,opened_at,closed_at,priority,status",
    "crm/health_overrides.csv": (
        "override_id,account_id,override_quadrant,override_score,note,author,created_at,expires_at"
    ),
    "billing/customers.jsonl": "",
    "billing/subscriptions.jsonl": "",
    "billing/invoices.jsonl": "",
}


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600, check=False
    )


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*"))


def write_company(drop: Path, last_day: datetime, accounts: int = 6, days: int = 28) -> None:
    """A small company in the contract's shape with only the two required inputs: accounts, and a
    few users per account sending track events every day up to `last_day` (identify calls give the
    e-mail; context.groupId names the account)."""
    (drop / "crm").mkdir(parents=True, exist_ok=True)
    (drop / "product" / "events").mkdir(parents=True, exist_ok=True)
    segments = ["smb", "mid_market", "enterprise"]
    rows = [ACCOUNTS_HEADER]
    for a in range(1, accounts + 1):
        segment = segments[a % 3]
        rows.append(
            f"acc_{a:03d},Company {a},c{a}.example,{segment},software,csm_{a % 2},,2024-01-01T00:00:00Z"
        )
    (drop / "crm" / "accounts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    lines = []
    for a in range(1, accounts + 1):
        for u in range(1, a % 3 + 2):
            user = f"u_{a:03d}_{u}"
            start = last_day - timedelta(days=days)
            lines.append(
                {
                    "messageId": f"id_{user}",
                    "type": "identify",
                    "userId": user,
                    "timestamp": start.isoformat(),
                    "traits": {"email": f"{user}@c{a}.example"},
                }
            )
            for d in range(days + 1):
                if (d + a + u) % (a % 4 + 1):  # accounts differ in how often they come back
                    continue
                when = start + timedelta(days=d, hours=u)
                lines.append(
                    {
                        "messageId": f"m_{user}_{d}",
                        "type": "track",
                        "userId": user,
                        "event": ["report_viewed", "dashboard_opened", "export_created"][(d + u) % 3],
                        "timestamp": when.isoformat(),
                        "context": {"groupId": f"acc_{a:03d}"},
                        "properties": {},
                    }
                )
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    (drop / "product" / "events" / "part-0001.jsonl").write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------ the inventory
def test_inventory_says_present_empty_or_missing(tmp_path):
    drop = tmp_path / "drop"
    write_company(drop, datetime(2026, 1, 31, tzinfo=UTC), accounts=2, days=2)
    (drop / "crm" / "nps_responses.csv").write_text(OPTIONAL_HEADERS["crm/nps_responses.csv"] + "\n")
    (drop / "crm" / "support_tickets.csv").write_bytes(b"")
    (drop / "billing").mkdir()
    with gzip.open(drop / "billing" / "invoices.jsonl.gz", "wb") as handle:
        handle.write(b"\n\n")
    empty = pa.table({"message_id": pa.array([], pa.string())})
    pq.write_table(empty, drop / "product" / "events" / "part-0002.parquet")
    (drop / "crm" / "_notes").mkdir()
    (drop / "crm" / "_notes" / "health_overrides.csv").write_text("not data\nx\n")

    status = inventory(drop)

    assert set(status) == {spec.name for spec in INPUTS}
    assert status["product/events"] == PRESENT  # one file with records is enough
    assert status["crm/accounts.csv"] == PRESENT
    assert status["crm/nps_responses.csv"] == EMPTY  # header only
    assert status["crm/support_tickets.csv"] == EMPTY  # zero bytes
    assert status["billing/invoices.jsonl"] == EMPTY  # gzipped blank lines
    assert status["crm/health_overrides.csv"] == MISSING  # underscore folders are not data
    assert status["billing/subscriptions.jsonl"] == MISSING


def test_required_inputs_are_named_when_absent_or_header_only(tmp_path):
    drop = tmp_path / "drop"
    write_company(drop, datetime(2026, 1, 31, tzinfo=UTC), accounts=2, days=2)
    (drop / "crm" / "accounts.csv").write_text(ACCOUNTS_HEADER + "\n")
    with pytest.raises(MissingInputs, match=r"crm/accounts.csv \(empty\)"):
        check(drop)
    for path in (drop / "product" / "events").iterdir():
        path.unlink()
    with pytest.raises(MissingInputs, match=r"product/events \(missing\), crm/accounts.csv \(empty\)"):
        check(drop)


# ----------------------------------------------------------------------- no demo surprises
def test_demo_only_into_the_default_folder_and_only_before_a_first_publish(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("ACCOUNT_HEALTH_SOURCE_DIR", "ACCOUNT_HEALTH_WAREHOUSE"):
        monkeypatch.delenv(key, raising=False)
    default = load_settings(None, "wh/health.duckdb")
    assert demo_allowed(default)
    assert demo_allowed(load_settings("data/landing", "wh/health.duckdb"))  # `make run`'s default
    assert not demo_allowed(load_settings("data/landng", "wh/health.duckdb"))  # a typo
    assert not demo_allowed(load_settings(tmp_path / "elsewhere", "wh/health.duckdb"))
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "health.duckdb").write_bytes(b"published")
    assert not demo_allowed(default)  # a company's warehouse is never merged with the demo
    (tmp_path / "wh" / "health.duckdb").unlink()
    write_company(tmp_path / "data" / "landing", datetime(2026, 1, 31, tzinfo=UTC), accounts=1, days=1)
    assert not demo_allowed(default)  # the folder has data: it is the company's


@pytest.mark.parametrize("folder", ["typo", "empty"])
def test_a_run_over_a_folder_without_data_fails_naming_it_and_writes_nothing(tmp_path, folder):
    source = tmp_path / folder
    if folder == "empty":
        source.mkdir()
    warehouse = tmp_path / "wh" / "health.duckdb"

    result = _run("run", "--source-dir", str(source), "--warehouse", str(warehouse))

    assert result.returncode == 1, result.stdout + result.stderr
    assert str(source) in result.stdout
    assert "failed step: inputs" in result.stdout
    assert "not published" in result.stdout
    if folder == "typo":
        assert not source.exists()
    else:
        assert _files(source) == []
    assert not warehouse.exists()
    assert not warehouse.with_name("health.candidate.duckdb").exists()


def test_a_drop_without_events_stops_before_anything_is_built(tmp_path):
    drop = tmp_path / "drop"
    write_company(drop, datetime(2026, 1, 31, tzinfo=UTC), accounts=2, days=2)
    for path in (drop / "product" / "events").iterdir():
        path.unlink()
    warehouse = tmp_path / "wh" / "health.duckdb"

    result = _run("run", "--source-dir", str(drop), "--warehouse", str(warehouse))

    assert result.returncode == 1
    assert "lacks required input(s): product/events (missing)" in result.stdout
    assert not warehouse.with_name("health.candidate.duckdb").exists()


# ------------------------------------------------------- a company with only the required inputs
@pytest.mark.slow
@pytest.mark.parametrize("optional", ["absent", "header_only"])
def test_events_and_accounts_alone_publish_and_the_summary_lists_the_gaps(tmp_path, optional):
    drop = tmp_path / "drop"
    write_company(drop, datetime.now(UTC) - timedelta(hours=6))
    if optional == "header_only":
        for relative, header in OPTIONAL_HEADERS.items():
            path = drop / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(header + "\n" if header else "", encoding="utf-8")
    warehouse = tmp_path / "wh" / "health.duckdb"

    result = _run("run", "--source-dir", str(drop), "--warehouse", str(warehouse))

    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    state = "missing" if optional == "absent" else "empty"
    assert "inputs missing or empty:" in result.stdout
    for name in ("crm/health_overrides.csv", "crm/nps_responses.csv", "billing/subscriptions.jsonl"):
        assert any(line.split()[:2] == [name, state] for line in result.stdout.splitlines()), name
    if optional == "header_only":  # an empty sparse table is no data, never an age, and never blocks
        nps = next(
            line for line in result.stdout.splitlines() if line.strip().startswith("crm.nps_responses")
        )
        assert "no records" in nps and nps.split()[-1] == "warn"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        accounts, with_arr, with_seats, with_renewal = con.execute(
            "select count(*), count(arr), count(licensed_seats), count(renewal_date) from marts.dim_accounts"
        ).fetchone()
        rejected = con.execute("select count(*) from quality.rejected_records").fetchone()[0]
    assert accounts == 6
    # no billing: ARR, seats and renewal are unknown, not zero
    assert (with_arr, with_seats, with_renewal) == (0, 0, 0)
    assert rejected == 0


@pytest.mark.slow
def test_old_events_block_a_publish_unless_the_run_is_as_of_a_past_date(tmp_path):
    drop = tmp_path / "drop"
    last_day = datetime.now(UTC) - timedelta(days=30)
    write_company(drop, last_day)
    warehouse = tmp_path / "wh" / "health.duckdb"

    stale = _run("run", "--source-dir", str(drop), "--warehouse", str(warehouse))
    assert stale.returncode == 1
    assert "failed step: freshness" in stale.stdout
    assert "source.account_health.product.events (error)" in stale.stdout
    assert not warehouse.exists()

    replay = _run(
        "run",
        "--source-dir",
        str(drop),
        "--warehouse",
        str(warehouse),
        "--as-of",
        last_day.date().isoformat(),
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr[-4000:]
    events = next(line for line in replay.stdout.splitlines() if line.strip().startswith("product.events"))
    assert "days old" in events and events.endswith(
        f"error, not enforced: as of {last_day.date().isoformat()}"
    )


def write_billing_as_sent_today(drop: Path, accounts: int, last_day: datetime) -> dict[str, float]:
    """Stripe objects as the API sends them from 2025-03-31 on: the current period on subscription
    items, invoice lines with `parent.subscription_item_details` and `pricing.price_details.price` as
    an id (no `price`, no `currency`, no `subscription_item` on the line), and the prices in
    `billing/prices.jsonl`. Returns the ARR each account should get."""
    billing = drop / "billing"
    billing.mkdir(parents=True, exist_ok=True)
    period_start = int((last_day - timedelta(days=10)).timestamp())
    period_end = int((last_day + timedelta(days=20)).timestamp())
    price = {
        "id": "price_seat_m",
        "object": "price",
        "currency": "usd",
        "unit_amount": 5000,
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1},
        "metadata": {"kind": "seat"},
    }
    customers, subscriptions, invoices, expected = [], [], [], {}
    for a in range(1, accounts + 1):
        seats = a + 1
        customers.append({"id": f"cus_{a}", "object": "customer", "created": period_start, "name": f"Co {a}"})
        subscriptions.append(
            {
                "id": f"sub_{a}",
                "object": "subscription",
                "customer": f"cus_{a}",
                "status": "active",
                "created": period_start,
                "start_date": period_start,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"si_{a}",
                            "object": "subscription_item",
                            "price": price,
                            "quantity": seats,
                            "current_period_start": period_start,
                            "current_period_end": period_end,
                        }
                    ],
                },
            }
        )
        invoices.append(
            {
                "id": f"in_{a}",
                "object": "invoice",
                "customer": f"cus_{a}",
                "status": "paid",
                "currency": "usd",
                "total": 5000 * seats,
                "amount_paid": 5000 * seats,
                "created": period_start,
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": f"sub_{a}"},
                },
                "lines": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"il_{a}",
                            "object": "line_item",
                            "amount": 5000 * seats,
                            "quantity": seats,
                            "period": {"start": period_start, "end": period_end},
                            "parent": {
                                "type": "subscription_item_details",
                                "subscription_item_details": {"subscription": f"sub_{a}", "proration": False},
                            },
                            "pricing": {"type": "price_details", "price_details": {"price": "price_seat_m"}},
                        }
                    ],
                },
            }
        )
        expected[f"acc_{a:03d}"] = 50.0 * seats * 12
    for name, objects in (
        ("customers", customers),
        ("subscriptions", subscriptions),
        ("invoices", invoices),
        ("prices", [price]),
    ):
        text = "\n".join(json.dumps(obj) for obj in objects) + "\n"
        (billing / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return expected


@pytest.mark.slow
def test_stripe_as_sent_today_publishes_with_its_arr_and_renewal_dates(tmp_path):
    drop = tmp_path / "drop"
    last_day = datetime.now(UTC) - timedelta(hours=6)
    write_company(drop, last_day)
    expected = write_billing_as_sent_today(drop, 6, last_day)
    accounts = (drop / "crm" / "accounts.csv").read_text().splitlines()
    linked = [accounts[0]] + [
        line.replace(",,", f",cus_{int(line.split(',')[0][4:])},", 1) for line in accounts[1:]
    ]
    (drop / "crm" / "accounts.csv").write_text("\n".join(linked) + "\n", encoding="utf-8")
    warehouse = tmp_path / "wh" / "health.duckdb"

    result = _run("run", "--source-dir", str(drop), "--warehouse", str(warehouse))

    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select account_id, cast(arr as double), has_billing, renewal_date from marts.dim_accounts"
        ).fetchall()
        rejected = con.execute("select count(*) from quality.rejected_records").fetchone()[0]
        history = con.execute(
            "select count(*), sum(cast(line_mrr as double) * 12), count(billing_interval) "
            "from intermediate.int_recurring_invoice_lines_normalised"
        ).fetchone()
    assert {account: arr for account, arr, _, _ in rows} == expected
    assert all(billed and renewal is not None for _, _, billed, renewal in rows)
    assert rejected == 0
    # the revenue history values every line from prices.jsonl, to the same ARR as the subscriptions
    assert history == (6, sum(expected.values()), 6)
