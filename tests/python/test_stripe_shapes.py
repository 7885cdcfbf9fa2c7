"""Stripe billing as Stripe sends it today (pipelines/sources/stripe.py and models/staging/stripe).

- The same invoices in the classic line shape (expanded `price`) and the 2025-03-31+ shape
  (`parent.subscription_item_details`, `pricing.price_details.price` as an id or expanded, no line
  currency) give the same revenue history.
- raw_stripe has one shape whatever the drop: every table and column staging reads, even with no
  `billing/` at all.
- Bad lines are quarantined with a reason, file and line (CONTRACT 1b), and which copy of a repeated
  id is kept is fixed.
Real dlt into DuckDB files in tmp dirs, dbt in-process.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from dbt_support import dbt_build  # noqa: E402

from pipelines.load import load_drop  # noqa: E402
from pipelines.sources.stripe import RAW_COLUMNS  # noqa: E402

FIXTURE_DROP = Path(__file__).parent / "fixtures" / "drop_small"
MAY, JUN, JUL, AUG = 1714521600, 1717200000, 1719792000, 1722470400  # 2024-05-01 .. 2024-08-01 UTC
APR = 1711929600
NEXT_MAY = 1746057600

PRICES = {
    "price_seat_old": {
        "unit_amount": 4000,
        "interval": "month",
        "count": 1,
        "kind": "seat",
        "product": "prod_seat",
    },
    "price_seat_m": {
        "unit_amount": 5000,
        "interval": "month",
        "count": 1,
        "kind": "seat",
        "product": "prod_seat",
    },
    "price_platform_y": {
        "unit_amount": 120000,
        "interval": "year",
        "count": 1,
        "kind": "platform",
        "product": "prod_p",
    },
    "price_quarter": {
        "unit_amount": 30000,
        "interval": "month",
        "count": 3,
        "kind": "platform",
        "product": "prod_q",
    },
}

# (invoice, customer, subscription, created, [(line, price, quantity, period start, end, item, proration)])
INVOICES = [
    ("in_0", "cus_A1", "sub_1", APR, [("il_0a", "price_seat_old", 10, APR, MAY, "si_1", False)]),
    (
        "in_1",
        "cus_A1",
        "sub_1",
        MAY,
        [
            ("il_1a", "price_seat_m", 10, MAY, JUN, "si_1", False),
            ("il_1b", "price_platform_y", 1, MAY, NEXT_MAY, "si_2", False),
        ],
    ),
    (
        "in_2",
        "cus_A1",
        "sub_1",
        JUN,
        [
            ("il_2a", "price_seat_m", 12, JUN, JUL, None, False),  # 2025+: subscription_item may be absent
            ("il_2b", "price_seat_m", 2, MAY, JUN, "si_1", True),  # proration: not a run rate
        ],
    ),
    ("in_3", "cus_A2", "sub_2", MAY, [("il_3a", "price_quarter", 1, MAY, AUG, "si_3", False)]),
]
# The current subscriptions: their items expand today's prices (not price_seat_old).
SUBSCRIPTIONS = [
    ("sub_1", "cus_A1", [("si_1", "price_seat_m", 12), ("si_2", "price_platform_y", 1)]),
    ("sub_2", "cus_A2", [("si_3", "price_quarter", 1)]),
]


def _price(price_id: str) -> dict:
    p = PRICES[price_id]
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": "usd",
        "product": p["product"],
        "type": "recurring",
        "unit_amount": p["unit_amount"],
        "unit_amount_decimal": str(p["unit_amount"]),
        "recurring": {"interval": p["interval"], "interval_count": p["count"], "usage_type": "licensed"},
        "metadata": {"kind": p["kind"]},
        "created": APR,
    }


def _line(shape: str, line: tuple) -> dict:
    line_id, price_id, quantity, start, end, item, proration = line
    amount = PRICES[price_id]["unit_amount"] * quantity
    base = {
        "id": line_id,
        "object": "line_item",
        "amount": amount,
        "quantity": quantity,
        "period": {"start": start, "end": end},
    }
    subscription = "sub_2" if line_id.startswith("il_3") else "sub_1"
    if shape == "classic":
        return {
            **base,
            "currency": "usd",
            "price": _price(price_id),
            "proration": proration,
            "subscription": subscription,
            "subscription_item": item,
            "type": "subscription",
        }
    details = {"subscription": subscription, "proration": proration, "invoice_item": None}
    if item is not None:
        details["subscription_item"] = item
    price = _price(price_id) if shape == "expanded" else price_id
    # 2025-03-31+: no `price`, no `currency` on the line (it is the invoice's)
    return {
        **base,
        "parent": {"type": "subscription_item_details", "subscription_item_details": details},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price, "product": PRICES[price_id]["product"]},
            "unit_amount_decimal": str(PRICES[price_id]["unit_amount"]),
        },
    }


def _invoice(shape: str, invoice: tuple) -> dict:
    invoice_id, customer, subscription, created, lines = invoice
    total = sum(PRICES[line[1]]["unit_amount"] * line[2] for line in lines)
    body = {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "currency": "usd",
        "total": total,
        "amount_paid": total,
        "created": created,
        "period_start": created,
        "period_end": created,
        "lines": {"object": "list", "has_more": False, "data": [_line(shape, line) for line in lines]},
    }
    if shape == "classic":
        body["subscription"] = subscription
    else:
        body["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription},
        }
    return body


def _subscription(subscription: tuple) -> dict:
    subscription_id, customer, items = subscription
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "start_date": APR,
        "created": APR,
        "current_period_start": JUN,
        "current_period_end": JUL,
        "cancel_at_period_end": False,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": item,
                    "object": "subscription_item",
                    "subscription": subscription_id,
                    "price": _price(price),
                    "quantity": quantity,
                }
                for item, price, quantity in items
            ],  # fmt: skip
        },
    }


def _jsonl(path: Path, objects: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))


def _drop(root: Path, shape: str, with_prices: bool, invoices: list[tuple] = INVOICES) -> Path:
    drop = root / "drop"
    (drop / "crm").mkdir(parents=True)
    shutil.copy(FIXTURE_DROP / "crm" / "accounts.csv", drop / "crm" / "accounts.csv")
    _jsonl(
        drop / "billing/customers.jsonl",
        [{"id": c, "object": "customer", "currency": "usd", "created": APR} for c in ("cus_A1", "cus_A2")],
    )
    _jsonl(drop / "billing/subscriptions.jsonl", [_subscription(s) for s in SUBSCRIPTIONS])
    _jsonl(drop / "billing/invoices.jsonl", [_invoice(shape, i) for i in invoices])
    if with_prices:
        _jsonl(drop / "billing/prices.jsonl", [_price(p) for p in PRICES])
    return drop


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _revenue_history(tmp: Path, shape: str, with_prices: bool, invoices: list[tuple] = INVOICES):
    """Land the drop in `shape`, build the revenue history; (normalised lines, rejected lines)."""
    drop = _drop(tmp, shape, with_prices, invoices)
    warehouse = tmp / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp / "dlt"), progress=False)
    dbt_build(
        tmp,
        warehouse,
        "--select", "+int_recurring_invoice_lines_normalised",
        "--indirect-selection", "cautious",
        "--exclude-resource-type", "unit_test",  # the unit tests run in their own build
    )  # fmt: skip
    normalised = _query(
        warehouse,
        "select stripe_invoice_line_id, account_id, stripe_invoice_id, stripe_subscription_id, "
        "billing_interval, billing_interval_count, price_kind, quantity, months_per_interval, "
        "cast(line_mrr as decimal(18, 2)), period_start_date, period_end_date "
        "from intermediate.int_recurring_invoice_lines_normalised order by 1",
    )
    staged = _query(
        warehouse,
        "select stripe_invoice_line_id, unit_amount, currency, billing_interval, price_kind, is_proration, "
        "rejection_reason from staging.base_stripe__invoice_lines order by 1",
    )
    return normalised, staged


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory):
    return _revenue_history(tmp_path_factory.mktemp("classic"), "classic", with_prices=False)


@pytest.mark.slow
def test_classic_shape_revenue_history_hand_computed(classic):
    normalised, _ = classic
    mrr = {row[0]: (row[1], float(row[9])) for row in normalised}
    # 10 x 40 and 10 x 50 a month; 1200 a year = 100 a month; 300 a quarter = 100 a month;
    # 12 x 50 a month; the proration il_2b is not a run rate
    assert mrr == {
        "il_0a": ("acc_00001", 400.0),
        "il_1a": ("acc_00001", 500.0),
        "il_1b": ("acc_00001", 100.0),
        "il_2a": ("acc_00001", 600.0),
        "il_3a": ("acc_00002", 100.0),
    }


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["ids_with_prices_file", "expanded"])
def test_2025_line_shape_gives_the_same_revenue_history(classic, shape, tmp_path):
    normalised, staged = _revenue_history(
        tmp_path, "ids" if shape == "ids_with_prices_file" else "expanded", with_prices=shape != "expanded"
    )
    assert normalised == classic[0]
    # unit amount, currency (from the price: the line has none), interval and kind as in the classic shape
    assert staged == classic[1]


@pytest.mark.slow
def test_price_ids_resolved_from_subscription_items_alone(classic, tmp_path):
    """No prices file: the prices the current subscriptions expand value their lines; a line of a
    price found nowhere (price_seat_old, no longer on any item) is rejected as unknown_price,
    never valued silently at zero."""
    normalised, staged = _revenue_history(tmp_path, "ids", with_prices=False)
    assert normalised == [row for row in classic[0] if row[0] != "il_0a"]
    assert [row for row in staged if row[0] != "il_0a"] == [row for row in classic[1] if row[0] != "il_0a"]
    assert [row for row in staged if row[0] == "il_0a"] == [
        ("il_0a", None, "usd", None, None, False, "unknown_price")
    ]


def test_expanded_pricing_price_lands_in_the_price_columns(tmp_path):
    """An expanded pricing.price_details.price lands as the line's `price__*` columns with its id
    in `pricing__price_details__price`, the same column an id-only line fills (no JSON column)."""
    drop = _drop(tmp_path, "expanded", with_prices=False)
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    rows = _query(
        warehouse,
        "select id, pricing__price_details__price, price__id, price__unit_amount, "
        "price__recurring__interval, currency from raw_stripe.invoices__lines__data where id = 'il_3a'",
    )
    assert rows == [("il_3a", "price_quarter", "price_quarter", 30000, "month", None)]
    json_columns = _query(
        warehouse,
        "select column_name from information_schema.columns where table_schema = 'raw_stripe' "
        "and table_name = 'invoices__lines__data' and data_type = 'JSON'",
    )
    assert json_columns == []


STRIPE_TABLES = [*RAW_COLUMNS, "quarantined_records"]


def _raw_columns(warehouse: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for table, column in _query(
        warehouse,
        "select table_name, column_name from information_schema.columns where table_schema = 'raw_stripe'",
    ):
        found.setdefault(table, set()).add(column)
    return found


def _assert_full_shape(warehouse: Path) -> None:
    found = _raw_columns(warehouse)
    for table in STRIPE_TABLES:
        assert table in found, f"raw_stripe.{table} missing"
    for table, columns in RAW_COLUMNS.items():
        assert set(columns) | {"_source_file", "_loaded_at"} <= found[table], table
    for child in ("subscriptions__items__data", "invoices__lines__data"):
        assert {"_dlt_parent_id", "_dlt_id", "_dlt_root_id"} <= found[child]


def test_no_billing_files_still_lands_every_raw_stripe_table(tmp_path):
    drop = tmp_path / "drop"
    shutil.copytree(FIXTURE_DROP / "crm", drop / "crm")
    shutil.copytree(FIXTURE_DROP / "product", drop / "product")
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    _assert_full_shape(warehouse)
    assert _query(warehouse, "select count(*) from raw_stripe.invoices__lines__data") == [(0,)]
    # billing arrives later: dlt loads into the tables created without it
    shutil.copytree(FIXTURE_DROP / "billing", drop / "billing")
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert _query(warehouse, "select count(*) from raw_stripe.invoices__lines__data") == [(5,)]
    _assert_full_shape(warehouse)


def test_empty_billing_files_and_fields_no_record_carries_are_columns(tmp_path):
    drop = tmp_path / "drop"
    (drop / "billing").mkdir(parents=True)
    (drop / "billing/customers.jsonl").write_text("")
    # classic lines only: no record has parent.* or pricing.*; a subscription without items
    _jsonl(drop / "billing/invoices.jsonl", [_invoice("classic", INVOICES[3])])
    _jsonl(drop / "billing/subscriptions.jsonl", [{"id": "sub_9", "customer": "cus_A1", "status": "active"}])
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    _assert_full_shape(warehouse)


def test_older_warehouse_gets_missing_columns_without_new_files(tmp_path):
    """A warehouse landed before a column was declared gets it on the next load, even when no
    file is new; dlt then loads into it without adding it twice."""
    drop = _drop(tmp_path, "classic", with_prices=False)
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table raw_stripe.invoices__lines__data drop column pricing__price_details__price")
        con.execute("drop table raw_stripe.prices")
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert result["files_loaded"] == []
    _assert_full_shape(warehouse)
    _jsonl(drop / "billing/invoices_2.jsonl", [_invoice("ids", INVOICES[0])])
    _jsonl(drop / "billing/prices.jsonl", [_price(p) for p in PRICES])
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert _query(warehouse, "select pricing__price_details__price from raw_stripe.invoices__lines__data "
                  "where id = 'il_0a'") == [("price_seat_old",)]  # fmt: skip
    assert _query(warehouse, "select count(*) from raw_stripe.prices") == [(4,)]


def _quarantine(warehouse: Path) -> set[tuple]:
    return set(
        _query(
            warehouse,
            "select source_table, record_key, reason, _source_file, _line_number "
            "from raw_stripe.quarantined_records",
        )
    )


def test_bad_lines_are_quarantined_and_the_last_copy_of_an_id_wins(tmp_path):
    drop = tmp_path / "drop"
    billing = drop / "billing"
    billing.mkdir(parents=True)
    customer = {"id": "cus_1", "object": "customer", "name": "One", "currency": "usd", "created": APR}
    lines = [
        b"\xef\xbb\xbf" + json.dumps(customer).encode(),  # 1: BOM at file start, read
        b'{"id": "cus_2", "name": "Tw',  # 2: malformed
        json.dumps({"id": "cus_3", "name": "Caf\u00e9"}).encode().replace(b"\\u00e9", b"\xe9"),  # 3: latin-1
        b"[1, 2]",  # 4: not an object
        json.dumps({"name": "no id"}).encode(),  # 5: missing id
        b"",  # 6: blank: skipped
        json.dumps({**customer, "name": "One v2"}).encode(),  # 7: conflicts with line 1 -> line 1 out
        json.dumps({"id": "cus_4", "name": "Four"}).encode(),  # 8: identical to line 9 -> line 8 out
        json.dumps({"name": "Four", "id": "cus_4"}).encode(),  # 9: same object, other key order
        json.dumps({**customer, "name": "One v3"}).encode(),  # 10: kept for cus_1 -> line 7 out
    ]
    (billing / "customers.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    # the same invoice in two files of one load: the later file (path order) wins, as an update
    first = _invoice("classic", INVOICES[3])
    later = copy.deepcopy(first)
    later["status"] = "void"
    _jsonl(billing / "invoices_a.jsonl", [first])
    _jsonl(billing / "invoices_b.jsonl", [later])
    # a gzip file cut short: the lines before the cut land, the cut is quarantined
    whole = gzip.compress(b"".join(json.dumps(_price(p)).encode() + b"\n" for p in PRICES))
    (billing / "prices.jsonl.gz").write_bytes(whole[: len(whole) - 12])
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)

    quarantined = _quarantine(warehouse)
    prices_cut = {row for row in quarantined if row[0] == "prices"}
    assert {row[2] for row in prices_cut} == {"truncated_file"}
    f = "billing/customers.jsonl"
    assert quarantined - prices_cut == {
        ("customers", f"{f}:2", "malformed_json", f, 2),
        ("customers", f"{f}:3", "invalid_utf8", f, 3),
        ("customers", f"{f}:4", "not_a_json_object", f, 4),
        ("customers", f"{f}:5", "missing_key", f, 5),
        ("customers", "cus_1", "duplicate_key_conflict", f, 1),
        ("customers", "cus_1", "duplicate_key_conflict", f, 7),
        ("customers", "cus_4", "duplicate_record", f, 8),
    }
    payloads = dict(
        _query(
            warehouse,
            "select _line_number, raw_payload from raw_stripe.quarantined_records "
            f"where _source_file = '{f}'",
        )  # fmt: skip
    )
    assert payloads[2] == '{"id": "cus_2", "name": "Tw'
    assert payloads[3] == '{"id": "cus_3", "name": "Caf\\xe9"}'  # the bad byte kept, escaped
    assert json.loads(payloads[1])["name"] == "One"  # the BOM is not part of the record
    assert _query(warehouse, "select id, name from raw_stripe.customers order by id") == [
        ("cus_1", "One v3"),
        ("cus_4", "Four"),
    ]
    assert _query(warehouse, "select status, _source_file from raw_stripe.invoices") == [
        ("void", "billing/invoices_b.jsonl")
    ]
    assert _query(warehouse, "select count(*) from raw_stripe.invoices__lines__data") == [(1,)]
    assert _query(warehouse, "select count(*) from raw_stripe.prices")[0][0] < len(PRICES)

    # the file landed again, fixed: its quarantined rows are replaced (here by none)
    (billing / "customers.jsonl").write_bytes(lines[0] + b"\n" + lines[7] + b"\n")
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert {row for row in _quarantine(warehouse) if row[3] == f} == set()
    assert ("cus_4", "Four") in _query(warehouse, "select id, name from raw_stripe.customers")


# Each current item's period (start, end) today: sub_1's monthly seats and yearly platform fee,
# sub_2's quarterly price. A subscription's current period is the one of its item that ends first.
ITEM_PERIODS = {"si_1": (JUN, JUL), "si_2": (MAY, NEXT_MAY), "si_3": (MAY, AUG)}


def _subscription_in_shape(subscription: tuple, shape: str) -> dict:
    """A current subscription as the API sends it before 2025 (`classic`: current_period_* on the
    subscription) or from 2025 on (`items`: on each item, none on the subscription)."""
    body = _subscription(subscription)
    periods = [ITEM_PERIODS[item["id"]] for item in body["items"]["data"]]
    if shape == "classic":
        body["current_period_start"], body["current_period_end"] = min(periods, key=lambda p: p[1])
        return body
    del body["current_period_start"], body["current_period_end"]
    for item in body["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = ITEM_PERIODS[item["id"]]
    return body


@pytest.mark.slow
def test_renewal_date_is_the_same_from_subscription_or_item_periods(tmp_path):
    """renewal_date (CONTRACT 3: the earliest current period end of the account's active
    subscriptions) is read from the subscription's own fields before 2025 and from its items'
    fields from 2025 on: the same subscriptions give the same dates, and the items' periods are staged."""
    as_of = "2024-06-15"
    renewals, warehouses = {}, {}
    for shape in ("classic", "items"):
        root = tmp_path / shape
        drop = _drop(root, "classic", with_prices=False)
        _jsonl(
            drop / "billing/subscriptions.jsonl", [_subscription_in_shape(s, shape) for s in SUBSCRIPTIONS]
        )
        shutil.copytree(FIXTURE_DROP / "product", drop / "product")
        warehouse = root / "wh.duckdb"
        load_drop(drop, warehouse, pipelines_dir=str(root / "dlt"), progress=False)
        dbt_build(
            root,
            warehouse,
            "--select", "+int_billing_aggregated_to_account_days",
            "--vars", f"{{as_of_date: '{as_of}'}}",
            "--indirect-selection", "cautious",
            "--exclude-resource-type", "unit_test",
        )  # fmt: skip
        renewals[shape] = _query(
            warehouse,
            "select account_id, renewal_date from intermediate.int_billing_aggregated_to_account_days "
            f"where date_day = date '{as_of}' and account_id in ('acc_00001', 'acc_00002') order by 1",
        )
        warehouses[shape] = warehouse
    # sub_1: monthly seats end 2024-07-01 before the yearly fee; sub_2: its quarter ends 2024-08-01
    expected = [("acc_00001", "2024-07-01"), ("acc_00002", "2024-08-01")]
    assert [(a, str(d)) for a, d in renewals["classic"]] == expected
    assert [(a, str(d)) for a, d in renewals["items"]] == expected
    item_periods = (
        "select stripe_subscription_item_id, cast(current_period_start_at as date), "
        "cast(current_period_end_at as date) from staging.stg_stripe__subscription_items order by 1"
    )
    assert [(i, str(s), str(e)) for i, s, e in _query(warehouses["items"], item_periods)] == [
        ("si_1", "2024-06-01", "2024-07-01"),
        ("si_2", "2024-05-01", "2025-05-01"),
        ("si_3", "2024-05-01", "2024-08-01"),
    ]
    assert _query(warehouses["classic"], item_periods) == [(i, None, None) for i in ("si_1", "si_2", "si_3")]
    # the subscriptions' own periods are the same, each read from where its shape puts it
    periods = (
        "select stripe_subscription_id, current_period_start_at, current_period_end_at, "
        "current_period_source from staging.stg_stripe__subscriptions order by 1"
    )
    classic_periods, item_based_periods = (
        _query(warehouses[shape], periods) for shape in ("classic", "items")
    )
    assert {row[3] for row in classic_periods} == {"subscription"}
    assert {row[3] for row in item_based_periods} == {"items"}
    assert [row[:3] for row in item_based_periods] == [row[:3] for row in classic_periods]
