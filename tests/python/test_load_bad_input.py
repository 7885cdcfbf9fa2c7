"""Bad input in the file drop (CONTRACT 1b) at the loader: what cannot be a row of its raw table
lands in the dataset's `quarantined_records` with a reason, the rest lands, and nothing crashes the
load. Each test changes a copy of tests/python/fixtures/drop_small and lands it with real dlt into
a DuckDB file in tmp_path.
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
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from pipelines.load import load_drop  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DROP = Path(__file__).parent / "fixtures" / "drop_small"
EVENTS = "product/events"


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _drop(tmp_path: Path) -> Path:
    drop = tmp_path / "drop"
    shutil.copytree(FIXTURE_DROP, drop)
    return drop


def _load(drop: Path, warehouse: Path, tmp_path: Path) -> dict:
    return load_drop(drop, warehouse, pipelines_dir=str(tmp_path / "dlt"), progress=False)


def _quarantined(warehouse: Path, dataset: str) -> list[tuple]:
    return _query(
        warehouse,
        "select source_table, reason, _source_file, _line_number, record_key, raw_payload "
        f"from {dataset}.quarantined_records order by _source_file, _line_number",
    )


def _events(warehouse: Path) -> list[tuple]:
    """raw_product.events without the load's own columns, sorted."""
    return _query(
        warehouse,
        "select message_id, type, user_id, anonymous_id, event, timestamp, received_at, context_group_id, "
        "group_id, properties, traits, _payload_hash, _source_file, _line_number "
        "from raw_product.events order by message_id",
    )


# ------------------------------------------------------------------------------------ events
def test_event_file_with_a_byte_order_mark_lands_its_first_line(tmp_path):
    drop = _drop(tmp_path)
    events = drop / EVENTS / "part-0001.jsonl"
    events.write_bytes(b"\xef\xbb\xbf" + events.read_bytes())
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    line_1 = _query(
        warehouse,
        "select message_id, _is_json_object from raw_product.event_deliveries "
        f"where _source_file = '{EVENTS}/part-0001.jsonl' and _line_number = 1",
    )
    assert line_1 == [("msg_001", True)]
    assert _query(warehouse, "select _line_number from raw_product.events where message_id = 'msg_001'") == [
        (1,)
    ]


def test_event_line_that_is_not_utf8_is_quarantined_not_landed(tmp_path):
    drop = _drop(tmp_path)
    path = drop / EVENTS / "part-0009.jsonl"
    good = {"messageId": "msg_900", "type": "track", "userId": "usr_000001", "event": "report.created",
            "timestamp": "2024-05-04T10:00:00Z"}  # fmt: skip
    bad = b'{"messageId":"msg_901","type":"track","userId":"usr_\xff\xfe","timestamp":"2024-05-04T10:00:00Z"}'
    path.write_bytes(json.dumps(good).encode() + b"\n" + bad + b"\n")
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    file = f"{EVENTS}/part-0009.jsonl"
    assert _query(
        warehouse,
        f"select _line_number, message_id from raw_product.event_deliveries where _source_file = '{file}'",
    ) == [(1, "msg_900")]
    assert _query(warehouse, "select count(*) from raw_product.events where message_id = 'msg_901'") == [(0,)]
    assert _quarantined(warehouse, "raw_product") == [
        ("event_deliveries", "invalid_utf8", file, 2, f"{file}:2", bad.decode("utf-8", "backslashreplace"))
    ]
    assert "usr_\\xff\\xfe" in _quarantined(warehouse, "raw_product")[0][5]


def test_truncated_gzip_lands_its_readable_lines_and_quarantines_the_rest(tmp_path):
    drop = _drop(tmp_path)
    lines = [
        json.dumps({"messageId": f"msg_9{n:02d}", "type": "track", "userId": "usr_000001",
                    "event": "report.created", "timestamp": "2024-05-04T10:00:00Z", "pad": "x" * 200})
        for n in range(40)
    ]  # fmt: skip
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    path = drop / EVENTS / "part-0009.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])  # the upload was cut short
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)  # before: EOFError, naming no file
    file = f"{EVENTS}/part-0009.jsonl.gz"
    landed = [
        row[0]
        for row in _query(
            warehouse,
            f"select _line_number from raw_product.event_deliveries where _source_file = '{file}' order by 1",
        )
    ]
    assert landed and landed == list(range(1, len(landed) + 1)) and len(landed) < len(lines)
    quarantined = _quarantined(warehouse, "raw_product")
    assert [(q[0], q[1], q[2], q[3]) for q in quarantined] == [
        ("event_deliveries", "truncated_file", file, len(landed) + 1)
    ]
    assert quarantined[0][4] == f"{file}:after line {len(landed)}"
    payload = json.loads(quarantined[0][5])
    assert payload["file"] == file and payload["last_line_read"] == len(landed)
    # every landed line is whole: a partial last line is not landed
    assert _query(warehouse, f"select count(*) from raw_product.events where _source_file = '{file}'") == [
        (len(landed),)
    ]


def test_relanding_the_file_of_a_stored_copy_without_it_stores_another_delivery(tmp_path):
    """msg_002 is stored from part-0001.jsonl line 2 and delivered again by part-0002.jsonl.gz line 2:
    part-0001 landed again without it must leave msg_002 stored from part-0002, exactly as a fresh
    landing of the final drop stores it."""
    drop = _drop(tmp_path)
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    assert _query(warehouse, "select _source_file from raw_product.events where message_id = 'msg_002'") == [
        (f"{EVENTS}/part-0001.jsonl",)
    ]
    part = drop / EVENTS / "part-0001.jsonl"
    part.write_text("".join(line for line in part.read_text().splitlines(True) if '"msg_002"' not in line))
    result = _load(drop, warehouse, tmp_path)
    assert f"{EVENTS}/part-0002.jsonl.gz" in result["files_loaded"]
    assert _query(
        warehouse, "select _source_file, _line_number from raw_product.events where message_id = 'msg_002'"
    ) == [(f"{EVENTS}/part-0002.jsonl.gz", 2)]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _load(drop, fresh / "wh.duckdb", fresh)
    assert _events(warehouse) == _events(fresh / "wh.duckdb")
    # no delivery lost or doubled either
    deliveries = (
        "select _source_file, _line_number, message_id from raw_product.event_deliveries order by 1, 2"
    )
    assert _query(warehouse, deliveries) == _query(fresh / "wh.duckdb", deliveries)


# ------------------------------------------------------------------------------------ CSV
def test_ragged_and_badly_encoded_csv_rows_are_quarantined_and_the_rest_lands(tmp_path):
    drop = _drop(tmp_path)
    accounts = drop / "crm/accounts.csv"
    accounts.write_bytes(
        accounts.read_bytes()
        + b"acc_00005,Hooli,hooli.example,smb\n"  # ragged: 4 fields of 8
        + b"acc_00006,Caf\xe9 Ltd,cafe.example,smb,Food,Bob Lin,,2024-06-01T00:00:00Z\n"  # latin-1
        + b"acc_00007,Vandelay,vandelay.example,smb,Import,Bob Lin,,2024-06-01T00:00:00Z\n"
    )
    memberships = drop / "product/account_memberships.csv"
    memberships.write_text(memberships.read_text() + "usr_000009,acc_00001,member\n")
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)  # before: the whole load failed
    ids = [row[0] for row in _query(warehouse, "select account_id from raw_crm.accounts order by 1")]
    assert ids == ["acc_00001", "acc_00002", "acc_00003", "acc_00004", "acc_00007"]
    assert _query(warehouse, "select _line_number from raw_crm.accounts where account_id = 'acc_00007'") == [
        (7,)
    ]
    assert [q[:4] for q in _quarantined(warehouse, "raw_crm")] == [
        ("accounts", "ragged_row", "crm/accounts.csv", 5),
        ("accounts", "invalid_utf8", "crm/accounts.csv", 6),
    ]
    assert "Caf\\xe9 Ltd" in _quarantined(warehouse, "raw_crm")[1][5]
    assert [q[:4] for q in _quarantined(warehouse, "raw_product")] == [
        ("account_memberships", "ragged_row", "product/account_memberships.csv", 5)
    ]


def test_csv_with_a_byte_order_mark_reads_its_first_column_as_text(tmp_path):
    """Ids that look like numbers ('001') must land as the text they are, BOM or not."""
    drop = _drop(tmp_path)
    tickets = drop / "crm/support_tickets.csv"
    header, *rows = tickets.read_text().splitlines()
    numbered = [f"{n:03d}," + row.split(",", 1)[1] for n, row in enumerate(rows, start=1)]
    tickets.write_bytes(b"\xef\xbb\xbf" + ("\n".join([header, *numbered]) + "\n").encode())
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    described = {row[0]: row[1] for row in _query(warehouse, "describe raw_crm.support_tickets")}
    assert described["ticket_id"] == "VARCHAR", described
    assert _query(warehouse, "select ticket_id from raw_crm.support_tickets order by 1") == [
        (f"{n:03d}",) for n in range(1, len(rows) + 1)
    ]


def test_a_key_repeated_in_one_file_keeps_the_last_line(tmp_path):
    drop = _drop(tmp_path)
    tickets = drop / "crm/support_tickets.csv"
    header, *rows = tickets.read_text().splitlines()
    first = rows[0]
    changed = first.replace(first.split(",")[-1], "closed_later")
    tickets.write_text("\n".join([header, *rows, first, changed]) + "\n")
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    key = first.split(",")[0]
    assert _query(
        warehouse, f"select status, _line_number from raw_crm.support_tickets where ticket_id = '{key}'"
    ) == [("closed_later", len(rows) + 2)]
    assert [(q[1], q[3], q[4]) for q in _quarantined(warehouse, "raw_crm")] == [
        ("duplicate_key_conflict", 1, key),
        ("duplicate_key_conflict", len(rows) + 1, key),
    ]
    # identical earlier copies are duplicate_record
    tickets.write_text("\n".join([header, *rows, first]) + "\n")
    _load(drop, warehouse, tmp_path)
    assert [(q[1], q[3]) for q in _quarantined(warehouse, "raw_crm")] == [("duplicate_record", 1)]


def test_a_later_file_of_a_table_wins_in_one_run_and_across_runs(tmp_path):
    drop = _drop(tmp_path)
    accounts = drop / "crm/accounts.csv"
    header, *rows = accounts.read_text().splitlines()
    accounts.unlink()
    january, february = drop / "crm/accounts_2026-01.csv", drop / "crm/accounts_2026-02.csv"
    january.write_text("\n".join([header, *rows]) + "\n")
    february.write_text("\n".join([header, rows[0].replace("Acme Corp", "Acme February")]) + "\n")
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    name = "select name, _source_file from raw_crm.accounts where account_id = 'acc_00001'"
    assert _query(warehouse, name) == [("Acme February", "crm/accounts_2026-02.csv")]
    assert _query(warehouse, "select count(*) from raw_crm.accounts") == [(4,)]
    assert _quarantined(warehouse, "raw_crm") == []  # an update, not a rejection
    # the earlier file changed and landed again: the later file's version stays
    january.write_text(january.read_text().replace("Acme Corp", "Acme January v2"))
    result = _load(drop, warehouse, tmp_path)
    assert result["files_loaded"] == ["crm/accounts_2026-01.csv"]
    assert _query(warehouse, name) == [("Acme February", "crm/accounts_2026-02.csv")]


def test_every_contract_table_and_column_exists_whatever_the_csv_holds(tmp_path):
    drop = _drop(tmp_path)
    (drop / "crm/health_overrides.csv").unlink()
    (drop / "crm/nps_responses.csv").write_text(
        "response_id,account_id,respondent_email,score,submitted_at\n"
    )
    tickets = drop / "crm/support_tickets.csv"  # an export without closed_at
    lines = [line.split(",") for line in tickets.read_text().splitlines()]
    drop_at = lines[0].index("closed_at")
    tickets.write_text(
        "\n".join(",".join(f for i, f in enumerate(line) if i != drop_at) for line in lines) + "\n"
    )
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    expected = {
        "health_overrides": ["override_id", "account_id", "override_quadrant", "override_score", "note",
                             "author", "created_at", "expires_at"],
        "nps_responses": ["response_id", "account_id", "respondent_email", "score", "submitted_at"],
        "support_tickets": ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "status"],
        "accounts": ["account_id", "name", "domain", "segment", "industry", "csm_owner",
                     "stripe_customer_id", "created_at"],
        "cs_activities": ["activity_id", "account_id", "occurred_at", "activity_type", "is_automated",
                          "sentiment", "author"],
    }  # fmt: skip
    for table, columns in expected.items():
        described = {row[0]: row[1] for row in _query(warehouse, f"describe raw_crm.{table}")}
        for column in [*columns, "_source_file", "_line_number", "_loaded_at"]:
            assert column in described, (table, column)
        assert all(described[c] == "VARCHAR" for c in columns), (table, described)
    assert _query(warehouse, "select count(*) from raw_crm.health_overrides") == [(0,)]
    assert _query(warehouse, "select count(*) from raw_crm.nps_responses") == [(0,)]
    assert _query(warehouse, "select count(*), count(closed_at) from raw_crm.support_tickets") == [
        (len(lines) - 1, 0)
    ]


def test_memberships_table_exists_with_its_columns_without_a_file(tmp_path):
    drop = _drop(tmp_path)
    (drop / "product/account_memberships.csv").unlink()
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    columns = {row[0] for row in _query(warehouse, "describe raw_product.account_memberships")}
    assert {"user_id", "account_id", "role", "valid_from", "valid_to", "_source_file"} <= columns


def test_a_warehouse_landed_before_the_quarantine_gets_its_tables_on_a_run_with_nothing_new(tmp_path):
    """A warehouse landed by an earlier loader has no quarantined_records (and maybe no table of a
    file that was absent): a later run over the same drop lands nothing but must still create them,
    or staging fails on the missing relation."""
    drop = _drop(tmp_path)
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    con = duckdb.connect(str(warehouse))
    for dataset in ("raw_crm", "raw_product"):
        con.execute(f"drop table {dataset}.quarantined_records")
        con.execute(f"delete from {dataset}._dlt_version")  # dlt's schema as the earlier loader stored it
    con.execute("drop table raw_crm.health_overrides")
    con.execute("alter table raw_crm.accounts drop column industry")
    con.close()
    shutil.rmtree(tmp_path / "dlt")  # and no local state either
    result = _load(drop, warehouse, tmp_path)
    assert result["files_loaded"] == []
    for table in (
        "raw_crm.quarantined_records",
        "raw_product.quarantined_records",
        "raw_crm.health_overrides",
    ):
        assert _query(warehouse, f"select count(*) from {table}") == [(0,)], table
    assert "industry" in {row[0] for row in _query(warehouse, "describe raw_crm.accounts")}


def test_a_file_landed_again_replaces_its_quarantined_rows(tmp_path):
    drop = _drop(tmp_path)
    accounts = drop / "crm/accounts.csv"
    clean = accounts.read_text()
    accounts.write_text(clean + "acc_00005,ragged\nacc_00006,ragged\n")
    events = drop / EVENTS / "part-0009.jsonl"
    events.write_bytes(b'{"messageId":"msg_9\xff"}\n')
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    assert len(_quarantined(warehouse, "raw_crm")) == 2
    assert len(_quarantined(warehouse, "raw_product")) == 1
    accounts.write_text(clean + "acc_00005,ragged\n")
    _load(drop, warehouse, tmp_path)
    assert [q[3] for q in _quarantined(warehouse, "raw_crm")] == [5]  # replaced, not added
    accounts.write_text(clean)
    events.write_text(
        '{"messageId":"msg_900","type":"track","userId":"u","timestamp":"2024-05-04T10:00:00Z"}\n'
    )
    _load(drop, warehouse, tmp_path)
    assert _quarantined(warehouse, "raw_crm") == []  # landed again clean: none left
    assert _quarantined(warehouse, "raw_product") == []


# ------------------------------------------------------------------------------------ dbt
def _dbt_build(warehouse: Path, tmp_path: Path, select: list[str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ACCOUNT_HEALTH_BUILD_DB": str(warehouse),
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(Path(sys.executable).parent / "dbt"), "build", "--select", *select,
        "--indirect-selection", "cautious", "--project-dir", str(REPO_ROOT),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)


def _stripe_quarantine(warehouse: Path) -> None:
    """raw_stripe.quarantined_records as the Stripe loader creates it (when it does not yet)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "create table if not exists raw_stripe.quarantined_records (source_table varchar not null, "
            "record_key varchar, reason varchar not null, raw_payload varchar, "
            "_source_file varchar not null, _line_number bigint not null, _loaded_at timestamptz)"
        )
    finally:
        con.close()


@pytest.mark.slow
def test_quarantined_records_reach_rejected_records_and_reconcile(tmp_path):
    from pipelines.publish import collect_quality

    drop = _drop(tmp_path)
    (drop / "crm/health_overrides.csv").unlink()  # before: staging failed, no such table
    accounts = drop / "crm/accounts.csv"
    accounts.write_text(accounts.read_text() + "acc_00005,ragged\n")
    (drop / EVENTS / "part-0009.jsonl").write_bytes(b'{"messageId":"msg_9\xff"}\n')
    warehouse = tmp_path / "wh.duckdb"
    _load(drop, warehouse, tmp_path)
    _stripe_quarantine(warehouse)
    select = ["staging", "rejected_records", "assert_raw_rows_equal_staged_plus_rejected"]
    done = _dbt_build(warehouse, tmp_path, select)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    loader_rows = "select source_system, source_table, reason from quality.rejected_records where rejected_by = 'loader' order by 1, 2"  # noqa: E501
    expected = [("crm", "accounts", "ragged_row"), ("product", "event_deliveries", "invalid_utf8")]
    assert _query(warehouse, loader_rows) == expected
    report = collect_quality(warehouse)
    rows = {row["raw_table"]: row for row in report["reconciliation"]}
    assert rows["raw_crm.accounts"]["quarantined_rows"] == 1
    assert all(row["balanced"] for row in report["reconciliation"]), report["reconciliation"]
    # an incremental run rewrites the loader's rows: not doubled
    done = _dbt_build(warehouse, tmp_path, select)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert _query(warehouse, loader_rows) == expected
    # the file landed again clean: its rejection leaves too
    accounts.write_text("\n".join(accounts.read_text().splitlines()[:-1]) + "\n")
    _load(drop, warehouse, tmp_path)
    done = _dbt_build(warehouse, tmp_path, select)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert _query(warehouse, loader_rows) == expected[1:]
