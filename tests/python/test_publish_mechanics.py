"""Write-audit-publish building blocks on real DuckDB files, without dbt: lock, publish, rollback,
run log, quality figures and the GX publish gate. Fast; the CLI end to end is in test_cli_wap.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import publish as wap
from pipelines.config import load_settings
from pipelines.runlog import RunRecord, append_sidecar, read_sidecar, write_run_log_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "drop", tmp_path / "wh" / "health.duckdb")


def _make_db(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.t as select {value} as v")
    con.close()


def _value(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select v from marts.t").fetchone()[0]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ lock
HOLDER = """
import sys, time
from pathlib import Path
from pipelines.publish import WarehouseLock
lock = WarehouseLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_second_writer_fails_fast_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    lock_path = tmp_path / "health.duckdb.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert wap.is_locked(lock_path)
        started = time.monotonic()
        with pytest.raises(wap.WarehouseBusy, match=f"warehouse busy.*pid {holder.pid}"):
            wap.WarehouseLock(lock_path).acquire()
        assert time.monotonic() - started < 1
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert wap.WarehouseLock(lock_path).holder() == holder.pid  # the dead pid is still in the file
    assert not wap.is_locked(lock_path)
    with wap.WarehouseLock(lock_path) as lock:
        assert lock.holder() == __import__("os").getpid()
    assert not wap.is_locked(lock_path)


# --------------------------------------------------------------------------- publish, rollback
def test_publish_replaces_atomically_and_keeps_the_previous_file(settings):
    _make_db(settings.warehouse, 1)
    wap.prepare_candidate(settings)
    assert _value(settings.candidate) == 1  # the candidate starts as a copy of the published file
    con = duckdb.connect(str(settings.candidate))
    con.execute("update marts.t set v = 2")
    con.close()
    wap.mark_step(settings, "build")
    record = RunRecord(run_id="r1", command="run")
    record.finish("published")
    wap.publish_candidate(settings, [record.as_json()])
    assert _value(settings.warehouse) == 2
    assert _value(settings.previous) == 1
    assert not settings.candidate.exists() and not settings.candidate_state.exists()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("select run_id, outcome from quality.run_log").fetchall() == [("r1", "published")]
    con.close()
    wap.rollback(settings)
    assert (_value(settings.warehouse), _value(settings.previous)) == (1, 2)
    wap.rollback(settings)
    assert (_value(settings.warehouse), _value(settings.previous)) == (2, 1)


def test_rollback_without_previous_publish_fails(settings):
    _make_db(settings.warehouse, 1)
    with pytest.raises(wap.PublishError, match="no previous publish"):
        wap.rollback(settings)
    assert _value(settings.warehouse) == 1


def test_stale_candidate_is_removed_and_fresh_candidate_starts_empty(settings):
    settings.candidate.parent.mkdir(parents=True)
    settings.candidate.write_bytes(b"half-written by a killed run")
    settings.candidate_state.write_text("{}")
    assert wap.remove_stale_candidate(settings)
    assert not settings.candidate.exists()
    wap.prepare_candidate(settings)  # nothing published: dlt and dbt create the file
    assert not settings.candidate.exists()
    assert wap.read_state(settings)["steps"] == []


READER = """
import os, sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
reads = errors = 0
seen = set()
while not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        seen.add(con.execute("select v from marts.t").fetchone()[0])
        con.close()
        reads += 1
        if reads == 1:
            print("READY", flush=True)
    except Exception as exc:
        errors += 1
        print("ERROR", exc, flush=True)
    time.sleep(0.05)
print("RESULT", reads, errors, sorted(seen), flush=True)
"""


def test_reader_polling_every_50ms_never_fails_across_publishes(settings, tmp_path):
    _make_db(settings.warehouse, 0)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.warehouse), str(stop)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert reader.stdout.readline().strip() == "READY"
        for value in range(1, 6):
            time.sleep(0.3)
            wap.prepare_candidate(settings)
            con = duckdb.connect(str(settings.candidate))
            con.execute(f"update marts.t set v = {value}")
            con.close()
            wap.publish_candidate(settings, [])
        time.sleep(0.3)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    result = out.strip().splitlines()[-1].split(maxsplit=3)
    assert result[0] == "RESULT", out
    assert int(result[2]) == 0, out
    assert int(result[1]) >= 10, out
    assert result[3] == "[0, 1, 2, 3, 4, 5]", out  # it saw every publish, and never a broken file


# ------------------------------------------------------------------------------------- run log
def test_run_log_sidecar_survives_a_torn_line_and_fills_the_table(settings, tmp_path):
    failed = RunRecord(run_id="a", command="run")
    failed.failed_step = "build"
    failed.finish("failed", "dbt build failed")
    append_sidecar(settings.run_log_file, failed)
    with open(settings.run_log_file, "a") as handle:
        handle.write('{"run_id": "torn')  # a crash mid-write
    ok = RunRecord(run_id="b", command="run", rows_landed=10, rows_rejected=1)
    with ok.step("load"):
        pass
    ok.finish("published")
    with open(settings.run_log_file, "a") as handle:
        handle.write("\n")
    append_sidecar(settings.run_log_file, ok)
    records = read_sidecar(settings.run_log_file)
    assert [r["run_id"] for r in records] == ["a", "b"]
    con = duckdb.connect(str(tmp_path / "log.duckdb"))
    write_run_log_table(con, records)
    rows = con.execute(
        "select run_id, outcome, failed_step, rows_landed, rows_rejected, step_seconds like '%load%' "
        "from quality.run_log order by run_id"
    ).fetchall()
    con.close()
    assert rows == [("a", "failed", "build", None, None, False), ("b", "published", None, 10, 1, True)]


def test_a_failing_step_is_named_in_the_record():
    record = RunRecord(run_id="x", command="run")
    with pytest.raises(ValueError), record.step("audit"):
        raise ValueError("boom")
    assert record.failed_step == "audit" and "audit" in record.steps


# ------------------------------------------------------------------------------------- quality
def _quality_db(path: Path, rejected: int) -> None:
    con = duckdb.connect(str(path))
    for schema in ("raw_crm", "raw_product", "staging", "quality"):
        con.execute(f"create schema {schema}")
    con.execute("create table raw_crm.accounts as select range as id from range(100)")
    con.execute(
        f"create view staging.stg_crm__accounts as select * from raw_crm.accounts where id >= {rejected}"
    )
    con.execute("create table raw_product.event_deliveries as select range as id from range(300)")
    con.execute(
        "create view staging.stg_product__events as select * from raw_product.event_deliveries where id >= 3"
    )
    con.execute(
        f"""create table quality.rejected_records as
        select 'accounts' as source_table, 'unknown_segment' as reason from range({rejected})
        union all select 'events', 'duplicate_message_id' from range(2)
        union all select 'events', 'malformed_json' from range(1)"""
    )
    con.execute("create table quality.unresolved_events as select range as id from range(7)")
    con.close()


def test_quality_report_reconciles_each_source_table(tmp_path):
    path = tmp_path / "q.duckdb"
    _quality_db(path, rejected=4)
    report = wap.collect_quality(path)
    assert report["rejected_by_reason"] == {
        "unknown_segment": 4,
        "duplicate_message_id": 2,
        "malformed_json": 1,
    }
    assert report["rows_rejected"] == 7 and report["unresolved_events"] == 7
    by_table = {row["raw_table"]: row for row in report["reconciliation"]}
    accounts = by_table["raw_crm.accounts"]
    assert (accounts["raw_rows"], accounts["staged_rows"], accounts["rejected_rows"]) == (100, 96, 4)
    assert accounts["balanced"] is True
    assert by_table["raw_product.event_deliveries"]["balanced"] is True
    assert wap.rejected_share(report) == pytest.approx(7 / 400)


def test_quality_report_flags_an_unbalanced_table(tmp_path):
    path = tmp_path / "q.duckdb"
    _quality_db(path, rejected=4)
    con = duckdb.connect(str(path))
    con.execute("delete from quality.rejected_records where source_table = 'accounts' and rowid = 0")
    con.close()
    rows = {row["raw_table"]: row["balanced"] for row in wap.collect_quality(path)["reconciliation"]}
    assert rows["raw_crm.accounts"] is False


# ---------------------------------------------------------------------------------- GX audit
QUAD = "['Champions', 'Churn Risk', 'Relationship-Dependent', 'Frustrated Power Users']"


def _marts_db(path: Path, accounts: int = 10, bad: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    score = "(range * 7) % 100" if bad != "score" else "(range * 7) % 100 + 50"
    key = "'acc_' || range" if bad != "null_key" else "case when range = 0 then null else 'acc_' || range end"
    quadrant = f"{QUAD}[1 + range % 4]" if bad != "quadrant" else "'Sleepers'"
    con.execute(
        f"""create table marts.dim_accounts as select
            {key} as account_id, {score} as health_score, {score} as usage_score,
            {score} as relationship_score, {quadrant} as quadrant, null::varchar as previous_quadrant,
            range % 3 = 0 as is_at_risk, false as has_override, 1200.0 as arr, 100.0 as mrr
        from range({accounts})"""
    )
    at_risk = "300.0" if bad != "at_risk_arr" else "5000.0"
    con.execute(
        f"""create table marts.mart_at_risk_arr as select
            date '2026-06-30' as as_of_date, w as renewal_window, 'smb' as segment, 4 as accounts,
            1 as at_risk_accounts, 4800.0 as total_arr, {at_risk} as at_risk_arr
        from unnest(['0-30', '31-60', '61-90', '91-180', '181+']) as t(w)"""
    )
    con.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (None, None),
        ("score", "expect_column_values_to_be_between {'column': 'health_score'}"),
        ("null_key", "expect_column_values_to_not_be_null {'column': 'account_id'}"),
        ("quadrant", "expect_column_values_to_be_in_set {'column': 'quadrant'}"),
        ("at_risk_arr", "mart_at_risk_arr: expect_column_pair_values_a_to_be_greater_than_b"),
        ("rowcount", "dim_accounts: expect_table_row_count_to_be_between"),
    ],
)
def test_audit_gate(settings, bad, expected):
    from pipelines.audit import run_audit

    _marts_db(settings.warehouse, accounts=10)  # the previous publish: 10 accounts
    _marts_db(settings.candidate, accounts=4 if bad == "rowcount" else 10, bad=bad)
    run_dir = settings.run_dir("r1")
    result = run_audit(settings.candidate, settings.warehouse, settings, run_dir)
    assert result.validated == ["dim_accounts", "mart_at_risk_arr"]
    assert "fct_account_health_daily" in result.skipped
    # one Data Docs site, built after the last mart, shows every mart's validation
    index = (settings.data_docs_dir / "index.html").read_text()
    for mart in result.validated:
        assert f"marts.{mart}" in index, mart
        assert any((settings.data_docs_dir / "validations" / "marts" / mart).rglob("*.html")), mart
    saved = json.loads((run_dir / "gx_result.json").read_text())
    assert saved["success"] is result.success
    if expected is None:
        assert result.success, result.failures
    else:
        assert not result.success
        assert any(expected in failure for failure in result.failures), result.failures


@pytest.mark.slow
def test_audit_fails_when_a_published_mart_disappears(settings):
    from pipelines.audit import run_audit

    _marts_db(settings.warehouse)
    settings.candidate.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.candidate))
    con.execute("create schema marts")
    con.close()
    result = run_audit(settings.candidate, settings.warehouse, settings)
    assert not result.success
    assert any("dim_accounts: mart missing" in failure for failure in result.failures)


def test_sqlalchemy_duckdb_engine_url_opens_read_only(tmp_path):
    import sqlalchemy

    path = tmp_path / "health.duckdb"
    _make_db(path, 7)
    engine = sqlalchemy.create_engine(f"duckdb:///{path}?access_mode=read_only")
    try:
        with engine.connect() as con:
            assert con.execute(sqlalchemy.text("select v from marts.t")).scalar_one() == 7
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                con.execute(sqlalchemy.text("insert into marts.t values (8)"))
    finally:
        engine.dispose()
