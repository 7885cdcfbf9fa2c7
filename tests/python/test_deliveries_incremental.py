"""The incremental deliveries check equals a full refresh (issue 9).

base_product__event_deliveries checks only the deliveries loaded after its latest `loaded_at`
(macros/incremental/event_deliveries_plan.sql). A small demo drop (JSON lines with the demo's bad
records) is landed with the real pipeline; each case lands more files, runs dbt incrementally, and
compares the deliveries table, the stg view and quality.rejected_records, row for row, with a
`--full-refresh` of the same data:
- a new day's file: only its rows are written (old rows keep their `_built_at`), and a re-run
  writes nothing;
- a new file that delivers old messages again, once with the same payload (duplicate_message_id)
  and once changed (conflicting_duplicate);
- a changed file landed again (the loader replaces its rows): the run rebuilds from every delivery;
- an old delivery rejected for want of a stored copy whose message is stored by a later load (the
  loader never does this; the raw tables are edited to make it): it is checked again.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_support import built_rows, dbt_build

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

END_DATE = dt.date(2026, 3, 31)
DELIVERIES = "staging.base_product__event_deliveries"
# Staging and the rejected records; tests only where all of their parents are built.
SELECT = [
    "--select", "staging", "rejected_records",
    "--exclude-resource-type", "unit_test",
    "--indirect-selection", "cautious",
]  # fmt: skip


def _dbt(tmp: Path, db: Path, *extra: str) -> None:
    dbt_build(tmp, db, *SELECT, *extra)


def _tables(db: Path) -> dict[str, pd.DataFrame]:
    """The deliveries table, its stg view and the rejected records."""
    return {
        DELIVERIES: built_rows(db, DELIVERIES, "event_delivery_id"),
        "stg": built_rows(db, "staging.stg_product__event_deliveries", "1"),
        "rejected": built_rows(db, "quality.rejected_records", "rejected_record_id"),
    }


def _built_at(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f"select record_key, loaded_at, _built_at from {DELIVERIES} order by record_key").df()


def _assert_equal_to_full_refresh(tmp: Path, db: Path) -> dict[str, pd.DataFrame]:
    """Compare the incremental result with a full refresh of a copy; returns the incremental tables."""
    incremental = _tables(db)
    reference = tmp / "full_refresh.duckdb"
    reference.write_bytes(db.read_bytes())
    _dbt(tmp, reference, "--full-refresh")
    full_refresh = _tables(reference)
    for name, frame in incremental.items():
        pd.testing.assert_frame_equal(frame, full_refresh[name], check_exact=True, obj=name)
    return incremental


def _records(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _object(line: str) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


@pytest.fixture(scope="module")
def landed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drop without its last day's event file, landed and built (full refresh), once per module."""
    base = tmp_path_factory.mktemp("deliveries_base")
    drop, db = base / "drop", base / "wh.duckdb"
    generate(drop, accounts=6, days=14, end_date=END_DATE, progress=False)
    last = sorted((drop / "product" / "events").glob("*.jsonl*"))[-1]
    last.rename(base / last.name)
    load_drop(drop, db, progress=False, pipelines_dir=str(base / "dlt"))
    _dbt(base, db, "--full-refresh")
    (base / last.name).rename(last)
    return base


@pytest.fixture
def landed(tmp_path: Path, landed_once: Path) -> tuple[Path, Path, str]:
    """Each test's own copy of the landed and built drop: (drop, warehouse, dlt pipelines folder)."""
    for name in ("drop", "dlt"):
        shutil.copytree(landed_once / name, tmp_path / name)
    shutil.copyfile(landed_once / "wh.duckdb", tmp_path / "wh.duckdb")
    return tmp_path / "drop", tmp_path / "wh.duckdb", str(tmp_path / "dlt")


def test_new_day_writes_only_its_rows_and_a_rerun_nothing(tmp_path: Path, landed) -> None:
    drop, db, pipelines = landed
    before = _built_at(db)
    landed_files = load_drop(drop, db, progress=False, pipelines_dir=pipelines)["files_loaded"]
    assert len(landed_files) == 1
    _dbt(tmp_path, db)
    after = _built_at(db)
    new = after[~after["record_key"].isin(before["record_key"])]
    assert len(new) > 0 and new["record_key"].str.startswith(landed_files[0] + ":").all()
    # old rows were not rewritten: same _built_at as before; the new rows have a later one
    old = after.merge(before, on=["record_key", "loaded_at"], suffixes=("", "_before"))
    assert len(old) == len(before)
    assert (old["_built_at"] == old["_built_at_before"]).all()
    assert (new["_built_at"] > before["_built_at"].max()).all()
    _assert_equal_to_full_refresh(tmp_path, db)
    _dbt(tmp_path, db)  # nothing new: nothing written
    pd.testing.assert_frame_equal(_built_at(db), after, check_exact=True)


def test_redelivered_old_messages_are_duplicates(tmp_path: Path, landed) -> None:
    drop, db, pipelines = landed
    first = sorted((drop / "product" / "events").glob("*.jsonl*"))[0]
    old = [line for line in _records(first) if _object(line).get("messageId")][:2]
    same, changed = old[0], _object(old[1])
    changed["event"] = "changed_in_redelivery"
    redelivery = drop / "product" / "events" / "redelivery.jsonl.gz"
    _write(redelivery, [same, json.dumps(changed)])
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    _dbt(tmp_path, db)
    tables = _assert_equal_to_full_refresh(tmp_path, db)

    deliveries = tables[DELIVERIES].set_index("record_key")
    prefix = str(redelivery.relative_to(drop))
    assert deliveries.loc[f"{prefix}:1", "rejection_reason"] == "duplicate_message_id"
    assert deliveries.loc[f"{prefix}:2", "rejection_reason"] == "conflicting_duplicate"
    # the stored copies (in the first file) stay valid
    stored = deliveries[deliveries["event_id"].isin([_object(same)["messageId"], changed["messageId"]])]
    assert stored["rejection_reason"].isna().sum() == 2
    rejected = tables["rejected"]
    assert {f"{prefix}:1", f"{prefix}:2"} <= set(rejected["record_key"])


def test_relanded_changed_file_equals_full_refresh(tmp_path: Path, landed) -> None:
    drop, db, pipelines = landed
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)  # the last day
    _dbt(tmp_path, db)
    before = _tables(db)[DELIVERIES].set_index("record_key")

    changed = sorted((drop / "product" / "events").glob("*.jsonl*"))[3]
    lines = _records(changed)
    messages = [i for i, line in enumerate(lines) if _object(line).get("messageId")]
    dropped, edited = messages[0], messages[1]
    record = _object(lines[edited])
    record["event"] = "edited_after_landing"
    lines[edited] = json.dumps(record)
    kept = [line for i, line in enumerate(lines) if i != dropped]
    _write(changed, kept)
    landed_files = load_drop(drop, db, progress=False, pipelines_dir=pipelines)["files_loaded"]
    assert landed_files == [str(changed.relative_to(drop))]
    _dbt(tmp_path, db)
    after = _assert_equal_to_full_refresh(tmp_path, db)[DELIVERIES].set_index("record_key")

    prefix = str(changed.relative_to(drop))
    # not vacuous: the file lost a line and a payload changed
    assert (before.index.str.startswith(prefix + ":")).sum() == len(lines)
    assert (after.index.str.startswith(prefix + ":")).sum() == len(kept)
    assert len(after) == len(before) - 1
    moved = after.loc[f"{prefix}:{edited}"]  # line numbers from 1: the edited line moved up one
    assert moved["event_id"] == record["messageId"]
    assert moved["payload_hash"] != before.loc[f"{prefix}:{edited + 1}", "payload_hash"]


def test_old_rejected_delivery_is_checked_again_when_its_message_is_stored(tmp_path: Path, landed) -> None:
    """Raw tables edited by hand: a stored copy removed before the first build and landed later."""
    drop, db, pipelines = landed
    with duckdb.connect(str(db)) as con:
        message_id, source_file, line_number, loaded_at = con.sql(
            "select message_id, _source_file, _line_number, _loaded_at from raw_product.events "
            "order by _source_file, _line_number limit 1"
        ).fetchone()
        con.execute(
            "create table main.held_event as select * from raw_product.events where message_id = ?",
            [message_id],
        )
        con.execute("delete from raw_product.events where message_id = ?", [message_id])
    _dbt(tmp_path, db, "--full-refresh")
    key = f"{source_file}:{line_number}"
    before = _tables(db)[DELIVERIES].set_index("record_key")
    assert before.loc[key, "rejection_reason"] == "conflicting_duplicate"  # no stored copy

    with duckdb.connect(str(db)) as con:  # a later load stores it
        later = loaded_at + dt.timedelta(days=1)
        con.execute("update main.held_event set _loaded_at = ?", [later])
        con.execute("insert into raw_product.events select * from main.held_event")
        con.execute("drop table main.held_event")
    _dbt(tmp_path, db)
    after = _assert_equal_to_full_refresh(tmp_path, db)[DELIVERIES].set_index("record_key")
    assert pd.isna(after.loc[key, "rejection_reason"])
    assert len(after) == len(before)
