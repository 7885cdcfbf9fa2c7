"""The incremental identity models equal a full refresh after a changed event file is landed again.

The loader replaces a re-landed file's rows (it merges on `_source_file`): the rows it still holds get
the new `_loaded_at`, and the messages it no longer holds leave the raw table. An incremental run of
int_events_stitched_to_users and int_events_matched_to_account_rules must then drop those events and
take the changed ones, as a `--full-refresh` does (macros/incremental/identity_high_water_mark.sql).
The late-event and new-day cases are in test_usage_incremental.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_support import dbt_build

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

END_DATE = dt.date(2026, 3, 31)
MODELS = ["int_events_stitched_to_users", "int_events_matched_to_account_rules"]
SELECT = ["--select", f"+{MODELS[1]}", "--exclude-resource-type", "test", "unit_test"]


def _dbt(tmp: Path, db: Path, *extra: str) -> None:
    dbt_build(tmp, db, *SELECT, *extra)


def _identity(db: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        frames = {m: con.sql(f"select * from intermediate.{m} order by event_id").df() for m in MODELS}
    return {model: frame.reset_index(drop=True) for model, frame in frames.items()}


def _record(line: str) -> dict:
    try:
        record = json.loads(line)
    except ValueError:  # the demo's malformed lines stay as they are
        return {}
    return record if isinstance(record, dict) else {}


def _change_file(path: Path) -> tuple[str, str]:
    """Drop an identify call (one with an anonymousId if there is one) and move a track event an hour
    later; return (dropped message id, moved message id)."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    records = [_record(line) for line in lines]
    identifies = [
        i
        for i, r in enumerate(records)
        if r.get("type") == "identify" and r.get("userId") and r.get("messageId")
    ]
    # one that stitches an anonymous id when the file has one (few do), else any
    dropped = next((i for i in identifies if records[i].get("anonymousId")), identifies[0])
    moved = next(
        i
        for i, r in enumerate(records)
        if i != dropped and r.get("type") == "track" and r.get("messageId") and r.get("timestamp")
    )
    moved_id, dropped_id = records[moved]["messageId"], records[dropped]["messageId"]
    stamp = dt.datetime.fromisoformat(records[moved]["timestamp"].replace("Z", "+00:00"))
    records[moved]["timestamp"] = (stamp + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    lines[moved] = json.dumps(records[moved])
    kept = [line for i, line in enumerate(lines) if i != dropped]
    path.write_bytes(gzip.compress(("\n".join(kept) + "\n").encode()))
    return dropped_id, moved_id


def test_incremental_run_after_a_relanded_file_equals_full_refresh(tmp_path: Path) -> None:
    drop, db, pipelines = tmp_path / "drop", tmp_path / "wh.duckdb", str(tmp_path / "dlt")
    generate(drop, accounts=6, days=14, end_date=END_DATE, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    _dbt(tmp_path, db, "--full-refresh")
    before = _identity(db)

    changed = sorted((drop / "product" / "events").glob("*.jsonl*"))[5]
    dropped_id, moved_id = _change_file(changed)
    landed = load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    assert landed["files_loaded"] == [str(changed.relative_to(drop))]
    _dbt(tmp_path, db)  # incremental
    incremental = _identity(db)
    _dbt(tmp_path, db, "--full-refresh")
    full_refresh = _identity(db)

    stitched_before = before[MODELS[0]].set_index("event_id")
    stitched_after = incremental[MODELS[0]].set_index("event_id")
    # not vacuous: the dropped event was built, and the moved one was built at its old time
    assert dropped_id in stitched_before.index and dropped_id not in stitched_after.index
    shift = stitched_after.loc[moved_id, "event_at"] - stitched_before.loc[moved_id, "event_at"]
    assert shift == pd.Timedelta(hours=1)
    for model in MODELS:
        pd.testing.assert_frame_equal(incremental[model], full_refresh[model], check_exact=True)


def test_incremental_run_after_a_new_file_reads_only_its_rows(tmp_path: Path) -> None:
    """A new day's file: the run stitches its rows, and the result equals a full refresh."""
    drop, db, pipelines = tmp_path / "drop", tmp_path / "wh.duckdb", str(tmp_path / "dlt")
    generate(drop, accounts=6, days=14, end_date=END_DATE, progress=False)
    last = sorted((drop / "product" / "events").glob("*.jsonl*"))[-1]
    held = tmp_path / last.name
    last.rename(held)
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    _dbt(tmp_path, db, "--full-refresh")
    before = _identity(db)
    held.rename(last)
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    _dbt(tmp_path, db)
    incremental = _identity(db)
    _dbt(tmp_path, db, "--full-refresh")
    full_refresh = _identity(db)

    assert len(incremental[MODELS[1]]) > len(before[MODELS[1]])
    assert incremental[MODELS[0]]["loaded_at"].nunique() == 2
    for model in MODELS:
        pd.testing.assert_frame_equal(incremental[model], full_refresh[model], check_exact=True)
