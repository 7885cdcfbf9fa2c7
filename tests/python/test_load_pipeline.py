"""The dlt landing (pipelines/load.py) and the staging/rejection layer on a hand-made fixture drop.

tests/python/fixtures/drop_small/ holds one example of every bad-record kind next to valid rows; the
expected rejections below were worked out by hand from those files. Real DuckDB files in tmp dirs,
real dlt, dbt in-process on an isolated target path.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from pipelines.load import BOOKKEEPING_TABLE, _destination, _pipeline, load_drop  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DROP = Path(__file__).parent / "fixtures" / "drop_small"
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

DATA_FILES = [
    "billing/customers.jsonl",
    "billing/invoices.jsonl",
    "billing/subscriptions.jsonl",
    "crm/accounts.csv",
    "crm/cs_activities.csv",
    "crm/health_overrides.csv",
    "crm/nps_responses.csv",
    "crm/support_tickets.csv",
    "product/account_memberships.csv",
    "product/events/part-0001.jsonl",
    "product/events/part-0002.jsonl.gz",
    "product/events/part-0003.parquet",
]

# (source_table, record_key, reason), worked out by hand from the fixture drop.
EXPECTED_REJECTIONS = {
    ("events", "msg_003", "unparseable_timestamp"),
    ("events", "msg_004", "missing_identity"),
    ("events", "msg_010", "invalid_value"),  # type alias
    ("event_deliveries", "product/events/part-0001.jsonl:3", "duplicate_message_id"),
    ("event_deliveries", "product/events/part-0001.jsonl:4", "conflicting_duplicate"),
    ("event_deliveries", "product/events/part-0001.jsonl:5", "malformed_json"),
    ("event_deliveries", "product/events/part-0001.jsonl:6", "missing_message_id"),
    ("event_deliveries", "product/events/part-0002.jsonl.gz:2", "duplicate_message_id"),
    ("event_deliveries", "product/events/part-0003.parquet:2", "missing_message_id"),
    ("account_memberships", "usr_000002|acc_99999|2024-01-15", "unknown_account_crm"),
    ("account_memberships", "usr_000003|acc_00002|yesterday", "invalid_value"),
    ("customers", "cus_A2", "unknown_currency"),
    ("subscriptions__items__data", "si_2a", "negative_amount"),
    ("subscriptions__items__data", "si_2b", "unknown_currency"),
    ("invoices", "in_2", "unknown_currency"),
    ("invoices", "in_3", "negative_amount"),
    ("invoices__lines__data", "il_1c", "negative_amount"),
    ("invoices__lines__data", "il_2a", "parent_rejected"),
    ("accounts", "acc_00003", "invalid_value"),  # segment 'huge'
    ("accounts", "acc_00004", "unparseable_timestamp"),
    ("cs_activities", "act_000002", "unknown_account_crm"),
    ("cs_activities", "act_000003", "invalid_value"),  # activity_type 'fax'
    ("cs_activities", "act_000004", "unparseable_timestamp"),
    ("nps_responses", "nps_000002", "nps_out_of_range"),
    ("nps_responses", "nps_000003", "invalid_value"),  # score 'abc'
    ("support_tickets", "tkt_000002", "unknown_account_crm"),
    ("health_overrides", "ovr_00002", "invalid_value"),  # quadrant 'Meh'
}


def _raw_tables(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows (all columns, dlt's ids included), sorted, keyed by schema.table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw_product', 'raw_stripe', 'raw_crm') "
            "and table_name not in ('_dlt_loads', '_dlt_pipeline_state', '_dlt_version')"
        ).fetchall()
        return {
            f"{schema}.{table}": sorted(
                con.execute(f'select * from {schema}."{table}"').fetchall(), key=lambda row: repr(row)
            )
            for schema, table in names
        }
    finally:
        con.close()


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The fixture drop landed once (read-only tests share it; landing is the slow part)."""
    root = tmp_path_factory.mktemp("baseline")
    drop = root / "drop"
    shutil.copytree(FIXTURE_DROP, drop)
    warehouse = root / "wh.duckdb"
    result = load_drop(drop, warehouse, pipelines_dir=str(root / "dlt"), progress=False)
    return drop, warehouse, result


@pytest.fixture()
def landed(baseline: tuple[Path, Path, dict], tmp_path: Path) -> tuple[Path, Path, dict]:
    """A private copy of the landed baseline (drop and warehouse) for tests that change things.

    The copy has a new path, so a new dlt pipeline with no local state: what it knows about landed
    files comes from the warehouse itself, as after a lost working folder.
    """
    drop, warehouse, result = baseline
    shutil.copytree(drop, tmp_path / "drop")
    shutil.copy(warehouse, tmp_path / "wh.duckdb")
    return tmp_path / "drop", tmp_path / "wh.duckdb", result


def test_first_load_lands_every_data_file_and_skips_underscore_paths(baseline):
    _, warehouse, result = baseline
    assert sorted(result["files_loaded"]) == DATA_FILES  # not _manifest.json, _scratch/, _make_binary.py
    assert result["files_skipped"] == []
    assert result["rows"]["raw_product.event_deliveries"] == 18  # 14 non-blank lines + 2 gz + 2 parquet
    assert result["rows"]["raw_product.events"] == 12
    assert result["rows"]["raw_crm.accounts"] == 4
    landed_files = _query(warehouse, f"select source_file from raw_crm.{BOOKKEEPING_TABLE} order by 1")
    assert [row[0] for row in landed_files] == [f for f in DATA_FILES if f.startswith("crm/")]
    for table, rows in _raw_tables(warehouse).items():
        columns = [c[0] for c in _query(warehouse, f'describe {table.split(".")[0]}."{table.split(".")[1]}"')]
        assert "_source_file" in columns and "_loaded_at" in columns, table
        # the optional billing/prices.jsonl is not in the fixture drop: its table exists, empty
        optional = table.endswith(".quarantined_records") or table == "raw_stripe.prices"
        assert rows or optional, f"{table} is empty"


def test_second_load_changes_nothing(landed, tmp_path):
    drop, warehouse, _ = landed
    before = _raw_tables(warehouse)
    again = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert again["files_loaded"] == []
    assert sorted(again["files_skipped"]) == DATA_FILES
    assert again["rows"] == {}
    assert _raw_tables(warehouse) == before  # identical, dlt's own ids and load ids included


def test_duplicate_message_ids_are_stored_once(baseline):
    _, warehouse, _ = baseline
    counts = dict(_query(warehouse, "select message_id, count(*) from raw_product.events group by 1"))
    assert set(counts.values()) == {1}
    assert counts.keys() == {f"msg_{n:03d}" for n in range(1, 13)}
    # msg_001 delivered three times (one identical copy, one conflicting), stored as its first line
    deliveries = _query(
        warehouse,
        "select _line_number, _payload_hash from raw_product.event_deliveries "
        "where message_id = 'msg_001' order by 1",
    )
    stored = _query(
        warehouse,
        "select _line_number, _payload_hash, properties from raw_product.events where message_id = 'msg_001'",
    )
    assert [d[0] for d in deliveries] == [1, 3, 4]
    assert stored[0][:2] == deliveries[0]
    assert deliveries[1][1] == deliveries[0][1] and deliveries[2][1] != deliveries[0][1]
    assert json.loads(stored[0][2]) == {"report_id": "r1"}


def test_a_duplicate_delivery_keeps_its_own_line_so_a_conflicting_one_is_not_lost(baseline):
    _, warehouse, _ = baseline
    rows = _query(
        warehouse,
        "select _line_number, raw_line from raw_product.event_deliveries "
        "where message_id = 'msg_001' order by 1",
    )
    assert rows[0][1] is None  # the stored copy is in events
    kept = [json.loads(line) for _, line in rows[1:]]
    assert [m["messageId"] for m in kept] == ["msg_001", "msg_001"]
    assert kept[0]["properties"] == {"report_id": "r1"}  # the identical copy
    assert kept[1]["properties"] != {"report_id": "r1"}  # the conflicting content survives


def test_bad_lines_keep_raw_line_and_never_reach_events(baseline):
    _, warehouse, _ = baseline
    rows = _query(
        warehouse,
        "select _source_file, _line_number, raw_line, _is_json_object from raw_product.event_deliveries "
        "where message_id is null order by 1, 2",
    )
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("product/events/part-0001.jsonl", 5, False),
        ("product/events/part-0001.jsonl", 6, True),
        ("product/events/part-0003.parquet", 2, True),
    ]
    assert rows[0][2] == '{"messageId":"msg_bad","type":"track",'
    assert json.loads(rows[2][2])["event"] == "alert.configured"


def test_timestamps_and_json_are_landed_as_text(baseline):
    _, warehouse, _ = baseline
    row = _query(
        warehouse,
        "select timestamp, context_group_id, traits from raw_product.events "
        "where message_id in ('msg_001', 'msg_002') order by message_id",
    )
    assert row[0][:2] == ("2024-05-01T12:00:00+02:00", "acc_00001")
    assert json.loads(row[1][2]) == {"email": "Jane.Doe@ACME.example"}


def test_new_file_is_picked_up_incrementally(landed, tmp_path):
    drop, warehouse, _ = landed
    before = _raw_tables(warehouse)
    new_lines = [
        {"messageId": "msg_013", "type": "track", "userId": "usr_000001", "event": "alert.configured",
         "timestamp": "2024-05-05T10:00:00Z", "receivedAt": "2024-05-05T10:00:01Z"},
        # msg_011 (stored from part-0002) delivered again with a different payload: not overwritten
        {"messageId": "msg_011", "type": "track", "userId": "usr_000004", "event": "export.completed",
         "timestamp": "2024-05-03T11:00:00Z", "receivedAt": "2024-05-03T11:00:01Z"},
    ]  # fmt: skip
    with gzip.open(drop / "product/events/part-0004.jsonl.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(line) for line in new_lines) + "\n")
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert result["files_loaded"] == ["product/events/part-0004.jsonl.gz"]
    assert len(result["files_skipped"]) == len(DATA_FILES)
    after = _raw_tables(warehouse)
    assert len(after["raw_product.events"]) == len(before["raw_product.events"]) + 1
    assert len(after["raw_product.event_deliveries"]) == len(before["raw_product.event_deliveries"]) + 2
    assert _query(
        warehouse, "select _source_file, timestamp from raw_product.events where message_id = 'msg_011'"
    ) == [("product/events/part-0002.jsonl.gz", "2024-05-03T10:00:00Z")]
    for table in after:
        if not table.startswith("raw_product."):
            assert after[table] == before[table], table


def test_changed_file_is_reloaded_and_replaces_its_rows(landed, tmp_path):
    drop, warehouse, _ = landed
    accounts = drop / "crm/accounts.csv"
    accounts.write_text(accounts.read_text().replace("Acme Corp", "Acme Corporation"))
    events = drop / "product/events/part-0001.jsonl"
    events.write_text("\n".join(events.read_text().splitlines()[:2]) + "\n")  # the file shrank to 2 lines
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert sorted(result["files_loaded"]) == ["crm/accounts.csv", "product/events/part-0001.jsonl"]
    assert _query(warehouse, "select name from raw_crm.accounts where account_id = 'acc_00001'") == [
        ("Acme Corporation",)
    ]
    assert _query(warehouse, "select count(*) from raw_crm.accounts") == [(4,)]
    lines = _query(
        warehouse,
        "select _line_number from raw_product.event_deliveries "
        "where _source_file = 'product/events/part-0001.jsonl' order by 1",
    )
    assert lines == [(1,), (2,)]  # merge_key on the file: no stale deliveries of removed lines


def test_a_file_landed_again_empty_or_without_events_leaves_no_stale_rows(landed, tmp_path):
    """dlt's merge on the file replaces a file's rows only in a table the new load has rows of that
    file for: an emptied file must still lose its events and deliveries, and a file now holding
    only a malformed line must lose its events and keep just that delivery."""
    drop, warehouse, _ = landed
    emptied, malformed = "product/events/part-0002.jsonl.gz", "product/events/part-0001.jsonl"
    counts = (
        "select _source_file, count(*) from raw_product.{table} "
        f"where _source_file in ('{emptied}', '{malformed}') group by 1 order by 1"
    )
    # not vacuous: both files have events and deliveries before
    assert [row[0] for row in _query(warehouse, counts.format(table="events"))] == [malformed, emptied]
    (drop / emptied).write_bytes(gzip.compress(b""))
    (drop / malformed).write_text("{not json\n")
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert sorted(result["files_loaded"]) == [malformed, emptied]
    assert _query(warehouse, counts.format(table="events")) == []
    assert _query(warehouse, counts.format(table="event_deliveries")) == [(malformed, 1)]
    assert _query(
        warehouse, f"select raw_line from raw_product.event_deliveries where _source_file = '{malformed}'"
    ) == [("{not json",)]


def test_files_loaded_by_a_run_that_failed_before_its_bookkeeping_are_replaced(landed, tmp_path):
    """Event tables append when every file is new; a file with rows but no bookkeeping (the run
    died between the data load and `_landed_files`) must be merged over, not appended twice."""
    drop, warehouse, _ = landed
    before = _raw_tables(warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute(f"delete from raw_product.{BOOKKEEPING_TABLE} where source_file like 'product/events/%'")
    con.close()
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert sorted(result["files_loaded"]) == [f for f in DATA_FILES if f.startswith("product/events/")]
    assert result["rows"]["raw_product.events"] == 12
    after = _raw_tables(warehouse)
    for table in ("raw_product.events", "raw_product.event_deliveries"):
        # the same rows, only dlt's load id and the load clock differ
        def payload(rows: list[tuple], table: str = table) -> list[tuple]:
            columns = [c[0] for c in _query(warehouse, f"describe {table}")]
            keep = [i for i, c in enumerate(columns) if c not in ("_dlt_load_id", "_loaded_at")]
            return sorted((tuple(row[i] for i in keep) for row in rows), key=repr)

        assert payload(after[table]) == payload(before[table]), table
    assert _query(warehouse, "select count(*), count(distinct message_id) from raw_product.events") == [
        (12, 12)
    ]


def test_parse_streams_batches_with_the_first_delivery_as_stored_copy():
    """The parse alone: every delivery once, the stored copy flagged on the first delivery."""
    from datetime import UTC, datetime

    from pipelines.sources._files import discover
    from pipelines.sources.product import parse_event_files

    files = discover(FIXTURE_DROP, "product/events", ["*.jsonl", "*.jsonl.gz", "*.parquet"])
    events, deliveries = parse_event_files(files, datetime(2024, 6, 1, tzinfo=UTC))
    assert deliveries.num_rows == 18 and events.num_rows == 12
    first = {
        (r["_source_file"], r["_line_number"])
        for r in events.select(["_source_file", "_line_number"]).to_pylist()
    }
    assert ("product/events/part-0001.jsonl", 1) in first and (
        "product/events/part-0001.jsonl",
        3,
    ) not in first
    # a message already stored from another file is never stored again
    stored = pa.table({"message_id": ["msg_001"]})
    events, _ = parse_event_files(files, datetime(2024, 6, 1, tzinfo=UTC), stored_ids=stored)
    assert "msg_001" not in events.column("message_id").to_pylist() and events.num_rows == 11


def test_payload_hash_keeps_the_value_earlier_loads_stored(tmp_path):
    """The payload hash is the MD5 of the landed fields as one JSON array of strings: the value
    earlier loads stored (then computed with to_json([...])), so a redelivery of a message stored
    before still compares equal. Checked against Python's own MD5 of that text for a plain message,
    and against the old expression for awkward values (quotes, backslashes, control characters,
    non-ASCII text, nulls), in JSON lines and Parquet."""
    import hashlib
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    from pipelines.sources._files import discover
    from pipelines.sources.product import EVENT_FIELDS, parse_event_files

    plain = {
        "messageId": "m-plain",
        "type": "track",
        "userId": "u1",
        "event": "Report Viewed",
        "timestamp": "2024-05-01T10:00:00Z",
        "context": {"groupId": "acc_1"},
        "properties": {"report_id": "r1", "n": 2},
    }
    awkward = {
        "messageId": "m-awkward",
        "type": "identify",
        "anonymousId": 'a "quoted" \\ back\tslash',
        "timestamp": "2024-05-01T10:00:00+02:00",
        "traits": {"name": "Zoë 😀", "note": "line\nbreak \u0001 \u2028"},
    }
    events_dir = tmp_path / "product" / "events"
    events_dir.mkdir(parents=True)
    (events_dir / "a.jsonl").write_text(
        "\n".join(json.dumps(m, ensure_ascii=False) for m in (plain, awkward)) + "\n", encoding="utf-8"
    )
    row = {name: None for name in EVENT_FIELDS}
    row.update(message_id="m-parquet", type="track", properties='{"a": "x\\"y", "b": [1, 2]}')
    pq.write_table(pa.Table.from_pylist([row]), events_dir / "b.parquet")

    files = discover(tmp_path, "product/events", ["*.jsonl", "*.parquet"])
    events, _ = parse_event_files(files, datetime(2024, 6, 1, tzinfo=UTC))
    by_id = {r["message_id"]: r for r in events.to_pylist()}
    assert set(by_id) == {"m-plain", "m-awkward", "m-parquet"}

    fields = [
        "m-plain", "track", "u1", None, "Report Viewed", "2024-05-01T10:00:00Z", None, "acc_1", None,
        '{"report_id":"r1","n":2}', None,
    ]  # fmt: skip
    assert [by_id["m-plain"][name] for name in EVENT_FIELDS] == fields
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    assert by_id["m-plain"]["_payload_hash"] == hashlib.md5(text.encode()).hexdigest()

    con = duckdb.connect()
    old = con.execute(
        f"select message_id, md5(cast(to_json([{', '.join(EVENT_FIELDS)}]) as varchar)) from events"
    ).fetchall()
    assert {m: h for m, h in old} == {m: r["_payload_hash"] for m, r in by_id.items()}
    assert by_id["m-parquet"]["properties"] == '{"a":"x\\"y","b":[1,2]}'  # minified like JSON lines


def test_split_ahead_stops_its_worker_and_hands_over_its_errors():
    """The parse's worker thread: ends when the consumer stops early, and an error of the parse
    reaches the consumer instead of ending the stream as if it were complete."""
    import threading
    from datetime import UTC, datetime

    import duckdb

    from pipelines.sources import product
    from pipelines.sources._files import discover

    files = discover(FIXTURE_DROP, "product/events", ["*.jsonl", "*.jsonl.gz", "*.parquet"])
    rows = product.BATCH_ROWS
    product.BATCH_ROWS = 2  # several batches from the small fixture
    try:
        with product.EventParse(files, datetime(2024, 6, 1, tzinfo=UTC)) as parse:
            parse.exclude_stored()
            stream = product.split_ahead(parse, depth=1)
            events, deliveries = next(stream)
            assert deliveries.num_rows == 2 and events.num_rows <= 2
            stream.close()  # the consumer stops after one batch
            assert not any(t.name == "event-parse" for t in threading.enumerate())
            # the whole stream, batch by batch: every delivery once
            assert sum(d.num_rows for _, d in product.split_ahead(parse)) == 18
            parse.con.close()  # the parse fails in the worker
            with pytest.raises(duckdb.Error):
                list(product.split_ahead(parse))
    finally:
        product.BATCH_ROWS = rows


def test_pending_package_of_a_failed_run_is_dropped(landed, tmp_path):
    drop, warehouse, _ = landed
    dest = _destination("duckdb", warehouse.resolve())
    pipeline = _pipeline("crm", dest, f"{dest.destination_name}:{warehouse.resolve()}", str(tmp_path / "dlt"))
    # a run that extracted and normalised but never loaded (e.g. killed, or a failed load)
    pipeline.extract([{"account_id": "acc_ghost"}], table_name="accounts")
    pipeline.normalize()
    assert pipeline.has_pending_data
    accounts = drop / "crm/accounts.csv"
    accounts.write_text(
        accounts.read_text() + "acc_00005,Hooli,hooli.example,smb,Tech,Bob Lin,,2024-06-01T00:00:00Z\n"
    )
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    assert result["files_loaded"] == ["crm/accounts.csv"]
    ids = [row[0] for row in _query(warehouse, "select account_id from raw_crm.accounts order by 1")]
    assert ids == ["acc_00001", "acc_00002", "acc_00003", "acc_00004", "acc_00005"]  # no acc_ghost
    assert not _pipeline(
        "crm", dest, f"{dest.destination_name}:{warehouse.resolve()}", str(tmp_path / "dlt")
    ).has_pending_data


def _dbt_build(warehouse: Path, tmp_path: Path) -> None:
    """`dbt build` of staging and rejected_records in its own process: dbt-duckdb keeps its
    connection open for the life of the process, which would lock the file against our reads."""
    env = {
        **os.environ,
        "ACCOUNT_HEALTH_BUILD_DB": str(warehouse),
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--select", "staging", "rejected_records",
        "--indirect-selection", "cautious",
        "--project-dir", str(REPO_ROOT),
        "--target-path", str(tmp_path / "target"),
        "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_every_bad_record_kind_lands_in_rejected_records(landed, tmp_path):
    _, warehouse, _ = landed  # a copy: dbt writes into it
    _dbt_build(warehouse, tmp_path)
    rejected = _query(
        warehouse, "select source_table, record_key, reason, raw_payload from quality.rejected_records"
    )
    assert {(r[0], r[1], r[2]) for r in rejected} == EXPECTED_REJECTIONS
    assert all(json.loads(r[3]) for r in rejected)  # raw payloads are JSON
    staged = dict(
        _query(
            warehouse,
            "select 'events', count(*) from staging.stg_product__events union all "
            "select 'deliveries', count(*) from staging.stg_product__event_deliveries union all "
            "select 'accounts', count(*) from staging.stg_crm__accounts union all "
            "select 'lines', count(*) from staging.stg_stripe__invoice_lines",
        )
    )
    # 12 stored events -> 12 stored deliveries (rejected events keep a valid delivery); 18 - 6 rejected
    assert staged == {"events": 9, "deliveries": 12, "accounts": 2, "lines": 3}
    # UTC and cents, hand-computed: 12:00+02:00 -> 10:00 UTC; 12 seats x 5000 cents -> 600.00
    assert _query(
        warehouse,
        "select cast(event_at as varchar) from staging.stg_product__events where event_id = 'msg_001'",
    ) == [("2024-05-01 10:00:00",)]
    assert _query(
        warehouse,
        "select amount, unit_amount from staging.stg_stripe__invoice_lines "
        "where stripe_invoice_line_id = 'il_1a'",
    ) == [(600, 50)]
    # the 2025+ line shape (parent.subscription_item_details, pricing.price_details.price) flattens alike
    new_shape = (
        "select stripe_subscription_id, stripe_subscription_item_id, stripe_price_id, line_type, "
        "is_recurring, is_proration, amount from staging.stg_stripe__invoice_lines "
        "where stripe_invoice_line_id = 'il_4a'"
    )
    assert _query(warehouse, new_shape) == [
        ("sub_1", "si_1a", "price_seat_m", "subscription", True, True, 25)
    ]


def _shared(*parts: str) -> Path:
    path = SHARED_FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent: the shared vendor fixtures are only in the development checkout")
    return path


def test_real_segment_payloads_land(tmp_path):
    """Segment's documented messages (spec pages) land with their fields in the right columns."""
    segment = _shared("event-payload-specs", "segment")
    drop = tmp_path / "drop"
    (drop / "product/events").mkdir(parents=True)
    messages = [
        json.loads((segment / f"{name}_complete.json").read_text())
        for name in ("track", "identify", "group", "page")
    ]
    # The B2B SaaS spec page shows bodies of `analytics.track` calls: no messageId, `action` for type.
    # Landed as they are they cannot become events; given the ids a library adds, they must.
    spec = (segment / "b2b_saas_spec_events.ndjson").read_text().splitlines()
    b2b = [json.loads(line) for line in spec if line.strip()]
    messages += [{**body, "messageId": f"b2b-{i}", "type": body["action"]} for i, body in enumerate(b2b)]
    messages.append(b2b[0])  # as documented: a delivery without messageId, its raw_line kept
    (drop / "product/events/segment.jsonl").write_text("\n".join(json.dumps(m) for m in messages) + "\n")
    warehouse = tmp_path / "wh.duckdb"
    load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    rows = _query(
        warehouse,
        "select message_id, type, user_id, anonymous_id, event, timestamp, context_group_id, group_id, "
        "traits from raw_product.events",
    )
    by_id = {r[0]: r for r in rows}
    # The docs reuse one messageId for their identify, group and page examples: a conflicting
    # duplicate in real life. The first delivery (identify) is stored, the others stay deliveries.
    shared_id = messages[1]["messageId"]
    assert messages[2]["messageId"] == messages[3]["messageId"] == shared_id
    assert len(by_id) == len(messages) - 1 - 2
    assert by_id[shared_id][1] == "identify"
    hashes = _query(
        warehouse,
        "select count(*), count(distinct _payload_hash) from raw_product.event_deliveries "
        f"where message_id = '{shared_id}'",
    )
    assert hashes == [(3, 3)]
    bad = (
        "select count(*) from raw_product.event_deliveries where message_id is null and raw_line is not null"
    )
    assert _query(warehouse, bad) == [(1,)]
    track = by_id[messages[0]["messageId"]]
    assert track[1:6] == (
        "track",
        "AiUGstSDIg",
        "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
        "Course Clicked",
        "2015-12-12T19:11:01.249Z",
    )
    identify = by_id[messages[1]["messageId"]]
    assert json.loads(identify[8])["email"] == messages[1]["traits"]["email"]
    landed_b2b = [by_id[f"b2b-{i}"] for i in range(len(b2b))]
    assert len(landed_b2b) == 10 and {r[6] for r in landed_b2b} == {"acct_123"}


def test_real_stripe_objects_land_into_parent_and_child_tables(tmp_path):
    """Stripe's own example objects (openapi fixtures, current API shapes) land and flatten."""
    extracted = _shared("stripe-openapi-fixtures", "extracted")
    drop = tmp_path / "drop"
    (drop / "billing").mkdir(parents=True)
    for name, file in (("customer", "customers"), ("subscription", "subscriptions"), ("invoice", "invoices")):
        (drop / f"billing/{file}.jsonl").write_text(
            json.dumps(json.loads((extracted / f"{name}.json").read_text())) + "\n"
        )
    warehouse = tmp_path / "wh.duckdb"
    result = load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)
    subscription = json.loads((extracted / "subscription.json").read_text())
    invoice = json.loads((extracted / "invoice.json").read_text())
    assert result["rows"]["raw_stripe.subscriptions__items__data"] == len(subscription["items"]["data"])
    assert result["rows"]["raw_stripe.invoices__lines__data"] == len(invoice["lines"]["data"])
    item = subscription["items"]["data"][0]
    assert _query(
        warehouse,
        "select i.id, i.price__unit_amount, i.price__recurring__interval, s.id "
        "from raw_stripe.subscriptions__items__data as i "
        "inner join raw_stripe.subscriptions as s on i._dlt_parent_id = s._dlt_id",
    ) == [
        (item["id"], item["price"]["unit_amount"], item["price"]["recurring"]["interval"], subscription["id"])
    ]
    line = invoice["lines"]["data"][0]
    assert _query(warehouse, "select id, amount, period__start from raw_stripe.invoices__lines__data") == [
        (line["id"], line["amount"], line["period"]["start"])
    ]
