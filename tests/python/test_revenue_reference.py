"""Compare our MRR movements and retention rates with two independent references.

The references are the dbt Labs mrr-playbook (its own SQL run over its `subscription_periods` seed)
and the NRR / MRR-churn listings of "Fighting Churn With Data", both kept outside this repository in
`../shared/fixtures/mrr-playbook` (see its PROVENANCE.md; no licence is declared, so nothing of it is
copied here). Each subscription period becomes one recurring invoice line of a monthly price over
`[start_date, end_date)`, the staging tables our revenue models read are created from those lines in a
throw-away DuckDB file, and dbt runs the real revenue models over them. The playbook's `upgrade`,
`downgrade` and null categories are our `expansion`, `contraction` and `flat`; its zero-MRR months
between a churn and a reactivation carry no movement and are not rows of `fct_mrr_movements`.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = Path(os.environ.get("ACCOUNT_HEALTH_FIXTURES_DIR", REPO_ROOT.parent / "shared" / "fixtures"))
PLAYBOOK_DIR = FIXTURES_DIR / "mrr-playbook"
# Our spine starts at each account's first subscription month, like the playbook variant with a full spine.
EXPECTED_DIR = PLAYBOOK_DIR / "derived_expected" / "variant_full_spine_from_2017-09"
AS_OF_DATE = "2020-02-01"
REVENUE_MODELS = [
    "int_recurring_invoice_lines_normalised",
    "int_mrr_aggregated_to_account_months",
    "int_mrr_retention_aggregated_to_trailing_months",
    "fct_mrr_movements",
    "mart_revenue_retention",
    "mart_cohort_retention",
]
CATEGORY_MAP = {
    "new": "new",
    "churn": "churn",
    "reactivation": "reactivation",
    "upgrade": "expansion",
    "downgrade": "contraction",
    "": "flat",
}

pytestmark = pytest.mark.skipif(
    not (PLAYBOOK_DIR / "seeds" / "subscription_periods.csv").exists(),
    reason=f"reference fixture {PLAYBOOK_DIR} is absent (it lives outside the repository)",
)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _money(value: str) -> Decimal:
    return Decimal(value or "0").quantize(Decimal("0.01"))


def _create_staging_inputs(database: Path) -> None:
    """Land the playbook's subscription periods as the staging relations the revenue models read."""
    periods = _read_csv(PLAYBOOK_DIR / "seeds" / "subscription_periods.csv")
    con = duckdb.connect(str(database))
    try:
        con.execute("create schema staging")
        con.execute(
            """create table staging.stg_crm__accounts (
                account_id varchar, account_name varchar, domain varchar, segment varchar, industry varchar,
                csm_owner varchar, stripe_customer_id varchar, created_at timestamptz)"""
        )
        con.execute(
            """create table staging.stg_stripe__invoices (
                stripe_invoice_id varchar, stripe_customer_id varchar, stripe_subscription_id varchar,
                invoice_status varchar, currency varchar, total decimal(18, 2), amount_paid decimal(18, 2),
                created_at timestamptz, period_start_at timestamptz, period_end_at timestamptz)"""
        )
        con.execute(
            """create table staging.stg_stripe__invoice_lines (
                stripe_invoice_line_id varchar, stripe_invoice_id varchar, stripe_subscription_id varchar,
                stripe_subscription_item_id varchar, stripe_price_id varchar, line_type varchar,
                is_recurring boolean, is_proration boolean, quantity integer, amount decimal(18, 2),
                unit_amount decimal(18, 2), currency varchar, billing_interval varchar,
                billing_interval_count integer, price_kind varchar, period_start_at timestamptz,
                period_end_at timestamptz)"""
        )
        con.execute(
            """create table staging.stg_stripe__subscriptions (
                stripe_subscription_id varchar, stripe_customer_id varchar, subscription_status varchar,
                started_at timestamptz, current_period_start_at timestamptz,
                current_period_end_at timestamptz, cancel_at_period_end boolean, canceled_at timestamptz,
                ended_at timestamptz, created_at timestamptz)"""
        )
        # the as-of month falls back to the latest event date: the reference has no events
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_events_matched_to_account_rules"
            " (event_id varchar, event_date date)"
        )
        # mart_cohort_retention reads health on the months' first days; the reference has none.
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_account_health_daily"
            " (account_id varchar, date_day date, health_score double)"
        )
        customers = sorted({row["customer_id"] for row in periods}, key=int)
        con.executemany(
            "insert into staging.stg_crm__accounts (account_id, stripe_customer_id) values (?, ?)",
            [(f"acc_{customer}", f"cus_{customer}") for customer in customers],
        )
        for row in periods:
            sub = row["subscription_id"]
            con.execute(
                """insert into staging.stg_stripe__invoices
                   (stripe_invoice_id, stripe_customer_id, stripe_subscription_id, invoice_status, currency)
                   values (?, ?, ?, 'paid', 'usd')""",
                [f"in_{sub}", f"cus_{row['customer_id']}", f"sub_{sub}"],
            )
            con.execute(
                """insert into staging.stg_stripe__invoice_lines values
                   (?, ?, ?, ?, 'price_monthly', 'subscription', true, false, 1, ?, ?, 'usd', 'month', 1,
                    'platform', cast(? as timestamptz), cast(? as timestamptz))""",
                [
                    f"il_{sub}",
                    f"in_{sub}",
                    f"sub_{sub}",
                    f"si_{sub}",
                    Decimal(row["monthly_amount"]),
                    Decimal(row["monthly_amount"]),
                    row["start_date"],
                    row["end_date"],
                ],
            )
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    work = tmp_path_factory.mktemp("revenue_reference")
    database = work / "reference.duckdb"
    _create_staging_inputs(database)
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "ACCOUNT_HEALTH_TARGET": "duckdb",
        "ACCOUNT_HEALTH_BUILD_DB": str(database),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    # Only the revenue models are selected: the staging relations are the fixture's tables, not built
    # from raw. `build` also runs their unit, data and singular tests (bridge, bounds) on this data.
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--project-dir",
            str(REPO_ROOT),
            "--select",
            *REVENUE_MODELS,
            "--vars",
            f"{{as_of_date: '{AS_OF_DATE}'}}",
            # Tests that also read unselected models (relationships to dim_accounts) are skipped.
            "--indirect-selection",
            "cautious",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    con = duckdb.connect(str(database), read_only=True)
    yield con
    con.close()


def test_movements_match_playbook_per_customer_month(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = {
        (f"acc_{row['customer_id']}", row["date_month"]): (
            _money(row["mrr"]),
            _money(row["previous_month_mrr"]),
            _money(row["mrr_change"]),
            CATEGORY_MAP[row["change_category"]],
        )
        for row in _read_csv(EXPECTED_DIR / "mrr.csv")
        # Zero-MRR months after a churn carry no movement: not a row of ours (see fct_mrr_movements).
        if Decimal(row["mrr"]) > 0 or row["change_category"] == "churn"
    }
    actual = {
        (account_id, month_start.isoformat()): (
            _money(str(mrr)),
            _money(str(previous)),
            _money(str(change)),
            kind,
        )
        for account_id, month_start, mrr, previous, change, kind in warehouse.execute(
            """select account_id, month_start, mrr, previous_mrr, mrr_change, movement_type
               from marts.fct_mrr_movements"""
        ).fetchall()
    }
    assert len(expected) == 417 - 244 + sum(
        1
        for row in _read_csv(EXPECTED_DIR / "mrr.csv")
        if not row["change_category"] and Decimal(row["mrr"]) > 0
    )
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    different = sorted(key for key in set(expected) & set(actual) if expected[key] != actual[key])
    assert not missing and not extra and not different, (
        f"missing {missing[:5]}, extra {extra[:5]}, different "
        f"{[(key, expected[key], actual[key]) for key in different[:5]]}"
    )


def test_movement_counts_match_playbook(warehouse: duckdb.DuckDBPyConnection) -> None:
    counts = dict(
        warehouse.execute(
            """select movement_type, count(*) from marts.fct_mrr_movements
               where movement_type <> 'flat' group by 1"""
        ).fetchall()
    )
    # PROVENANCE.md, full-spine variant: new 55, churn 58, upgrade 30, downgrade 27, reactivation 3.
    assert counts == {"new": 55, "churn": 58, "expansion": 30, "contraction": 27, "reactivation": 3}


def test_monthly_bridge_matches_playbook_summary(warehouse: duckdb.DuckDBPyConnection) -> None:
    ours = {
        month.isoformat(): tuple(_money(str(value)) for value in values)
        for month, *values in warehouse.execute(
            """select month_start, ending_mrr, new_mrr, churned_mrr, reactivation_mrr, expansion_mrr,
                      contraction_mrr, ending_accounts
               from marts.mart_revenue_retention"""
        ).fetchall()
    }
    summary = _read_csv(EXPECTED_DIR / "mrr_by_month_summary.csv")
    # The playbook has no row for a month nobody paid in (2017-12); ours has one, all zeros.
    quiet_months = set(ours) - {row["date_month"] for row in summary}
    assert quiet_months == {"2017-12-01"}
    assert all(value == 0 for month in quiet_months for value in ours[month])
    for row in summary:
        expected = (
            _money(row["total_mrr"]),
            _money(row["new_mrr"]),
            -_money(row["churned_mrr"]),
            _money(row["reactivation_mrr"]),
            _money(row["expansion_mrr"]),
            -_money(row["contraction_mrr"]),
            _money(row["active_customers"]),
        )
        assert ours[row["date_month"]] == expected, row["date_month"]


def _approx(value: object) -> float | None:
    return None if value is None else round(float(value), 6)


def test_retention_rates_match_fighting_churn_listings(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Fighting Churn listing 2.1 (net MRR retention) and 2.4 (MRR churn = churn + downsell).

    A one-month window starting in month m is our row for month m + 1; a twelve-month window is the
    `_ttm` columns of the month it ends in. GRR is 1 - MRR churn rate, logo churn the account churn rate.
    """
    rows = {
        month.isoformat(): values
        for month, *values in warehouse.execute(
            """select month_start, starting_mrr, nrr, grr, logo_churn_rate,
                      ttm_starting_mrr, nrr_ttm, grr_ttm, logo_churn_rate_ttm
               from marts.mart_revenue_retention"""
        ).fetchall()
    }
    listings = _read_csv(PLAYBOOK_DIR / "derived_expected" / "fightchurn_listing_2_1_2_4_nrr_mrr_churn.csv")
    assert {row["window_len"] for row in listings} == {"1m", "12m"}
    for row in listings:
        start_mrr, nrr, grr, logo_churn = (
            rows[row["end_date"]][:4] if row["window_len"] == "1m" else rows[row["end_date"]][4:]
        )
        label = f"{row['window_len']} window {row['start_date']}..{row['end_date']}"
        assert _money(str(start_mrr)) == _money(row["start_mrr"]), label
        assert _approx(nrr) == pytest.approx(float(row["net_mrr_retention_rate"]), abs=1e-6), label
        assert _approx(grr) == pytest.approx(1 - float(row["mrr_churn_rate"]), abs=1e-6), label
        assert _approx(logo_churn) == pytest.approx(float(row["account_churn_rate"]), abs=1e-6), label
