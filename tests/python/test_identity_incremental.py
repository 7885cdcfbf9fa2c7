"""The incremental identity models equal a full refresh after an event file is landed again, changed
or empty.

The loader replaces a re-landed file's rows (it merges on `_source_file`): the rows it still holds get
the new `_loaded_at`, and the messages it no longer holds leave the raw table. An incremental run of
int_events_stitched_to_users and int_events_matched_to_account_rules must then drop those events and
take the changed ones, as a `--full-refresh` does (macros/incremental/identity_high_water_mark.sql).
A new day with a membership shortened far back and a new identify call that re-stitches old
anonymous events must give the same tables too: an incremental run finds those users from the
memberships its last build used and from the stitched rows rewritten since, without reading every
built event. The late-event case is in test_usage_incremental.py.
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
from dbt_support import dbt_statuses as _run

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
END_DATE = dt.date(2026, 3, 31)
MODELS = ["int_events_stitched_to_users", "int_events_matched_to_account_rules"]
SELECT = ["--select", f"+{MODELS[1]}", "--exclude-resource-type", "test", "unit_test"]


def _dbt(tmp: Path, db: Path, *extra: str) -> None:
    dbt_build(tmp, db, *SELECT, *extra)


def _identity(db: Path) -> dict[str, pd.DataFrame]:
    return {model: built_rows(db, f"intermediate.{model}", "event_id") for model in MODELS}


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


def _landed_without_last_day(tmp: Path, days: int) -> tuple[Path, Path]:
    """A demo drop of `days` landed into tmp/wh.duckdb with its last day's file held back; returns
    (the warehouse, the held-back file). `_land_last_day` lands it later."""
    drop, db = tmp / "drop", tmp / "wh.duckdb"
    generate(drop, accounts=6, days=days, end_date=END_DATE, progress=False)
    last = sorted((drop / "product" / "events").glob("*.jsonl*"))[-1]
    held = tmp / last.name
    last.rename(held)
    load_drop(drop, db, progress=False, pipelines_dir=str(tmp / "dlt"))
    return db, held


def _land_last_day(tmp: Path, db: Path, held: Path) -> None:
    """Put the held-back file back in the drop and land it."""
    held.rename(tmp / "drop" / "product" / "events" / held.name)
    load_drop(tmp / "drop", db, progress=False, pipelines_dir=str(tmp / "dlt"))


@pytest.mark.parametrize("change", ["changed", "emptied"])
def test_incremental_run_after_a_relanded_file_equals_full_refresh(tmp_path: Path, change: str) -> None:
    """A file landed again changed, or landed again empty: an emptied file leaves no raw row to
    name it, only the loader's bookkeeping row, and its events must still leave the built tables."""
    drop, db, pipelines = tmp_path / "drop", tmp_path / "wh.duckdb", str(tmp_path / "dlt")
    generate(drop, accounts=6, days=14, end_date=END_DATE, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    _dbt(tmp_path, db, "--full-refresh")
    before = _identity(db)

    relanded = sorted((drop / "product" / "events").glob("*.jsonl*"))[5]
    source_file = str(relanded.relative_to(drop))
    if change == "changed":
        dropped_id, moved_id = _change_file(relanded)
    else:
        relanded.write_bytes(gzip.compress(b""))
    landed = load_drop(drop, db, progress=False, pipelines_dir=pipelines)
    assert landed["files_loaded"] == [source_file]
    _dbt(tmp_path, db)  # incremental
    incremental = _identity(db)
    _dbt(tmp_path, db, "--full-refresh")
    full_refresh = _identity(db)

    stitched_before = before[MODELS[0]].set_index("event_id")
    stitched_after = incremental[MODELS[0]].set_index("event_id")
    if change == "changed":
        # not vacuous: the dropped event was built, and the moved one was built at its old time
        assert dropped_id in stitched_before.index and dropped_id not in stitched_after.index
        shift = stitched_after.loc[moved_id, "event_at"] - stitched_before.loc[moved_id, "event_at"]
        assert shift == pd.Timedelta(hours=1)
    else:
        # not vacuous: the file's events were built, and none is left
        assert (stitched_before["source_file"] == source_file).sum() > 0
        assert (stitched_after["source_file"] == source_file).sum() == 0
    for model in MODELS:
        pd.testing.assert_frame_equal(incremental[model], full_refresh[model], check_exact=True)


def test_incremental_run_after_a_new_file_reads_only_its_rows(tmp_path: Path) -> None:
    """A new day's file: the run stitches its rows, and the result equals a full refresh."""
    db, held = _landed_without_last_day(tmp_path, days=14)
    _dbt(tmp_path, db, "--full-refresh")
    before = _identity(db)
    _land_last_day(tmp_path, db, held)
    _dbt(tmp_path, db)
    incremental = _identity(db)
    _dbt(tmp_path, db, "--full-refresh")
    full_refresh = _identity(db)

    assert len(incremental[MODELS[1]]) > len(before[MODELS[1]])
    assert incremental[MODELS[0]]["loaded_at"].nunique() == 2
    for model in MODELS:
        pd.testing.assert_frame_equal(incremental[model], full_refresh[model], check_exact=True)


def _shorten_busiest_membership(db: Path) -> str:
    """End the membership behind most 'membership'-attributed events two days after it starts (its
    user's later events, days before the new one, lose rule 2); its user."""
    with duckdb.connect(str(db)) as con:
        user_id, account_id, valid_from = con.sql(
            """
            select memberships.user_id, memberships.account_id, memberships.valid_from
            from intermediate.int_events_matched_to_account_rules as matched
            inner join raw_product.account_memberships as memberships
                on matched.user_id = memberships.user_id and matched.account_id = memberships.account_id
            where matched.resolution_rule = 'membership'
            group by all
            order by count(*) desc, 1
            limit 1
            """
        ).fetchone()
        ends = dt.date.fromisoformat(valid_from[:10]) + dt.timedelta(days=2)
        con.execute(
            "update raw_product.account_memberships set valid_to = ? "
            "where user_id = ? and account_id = ? and valid_from = ?",
            [str(max(ends, END_DATE - dt.timedelta(days=12))), user_id, account_id, valid_from],
        )
    return user_id


def _restitch_old_events(db: Path) -> tuple[str, str]:
    """Land (with a later `_loaded_at`) an identify call of another user for an anonymous id, one
    second after the earliest of its stitched events: the events up to it belong to that user now.
    Returns (a re-stitched event id, the new user)."""
    with duckdb.connect(str(db)) as con:
        event_id, anonymous_id, event_at, old_user = con.sql(
            """
            select event_id, anonymous_id, event_at, user_id
            from intermediate.int_events_stitched_to_users
            where is_stitched
            order by event_at, event_id
            limit 1
            """
        ).fetchone()
        (new_user,) = con.sql(
            """
            select user_id from intermediate.int_events_matched_to_account_rules
            where user_id <> ? and resolution_rule = 'membership'
            group by user_id order by count(*) desc, user_id limit 1
            """,
            params=[old_user],
        ).fetchone()
        (latest,) = con.sql("select max(_loaded_at) from raw_product.events").fetchone()
        stamp = (event_at + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        con.execute(
            """
            insert into raw_product.events by name
            select * replace (
                'restitch-' || message_id as message_id, 'identify' as type, ? as user_id,
                ? as anonymous_id, null as event, ? as timestamp, ? as received_at,
                null as context_group_id, null as group_id, '{}' as properties, '{}' as traits,
                ? + interval 1 minute as _loaded_at
            )
            from raw_product.events
            where message_id = ?
            """,
            [new_user, anonymous_id, stamp, stamp, latest, event_id],
        )
    return event_id, new_user


def test_incremental_run_after_changed_memberships_and_a_restitch_equals_full_refresh(tmp_path: Path) -> None:
    """A new day, a membership shortened far back and a late identify call re-stitching old events:
    the incremental tables equal a full refresh, and a second run rewrites nothing."""
    db, held = _landed_without_last_day(tmp_path, days=21)
    _dbt(tmp_path, db, "--full-refresh")
    before = _identity(db)
    _land_last_day(tmp_path, db, held)
    moved_user = _shorten_busiest_membership(db)
    restitched_id, new_user = _restitch_old_events(db)
    _dbt(tmp_path, db)  # incremental
    incremental = _identity(db)
    compiled = tmp_path / "target" / "compiled" / "account_health" / "models" / "intermediate" / "identity"
    sql = (compiled / f"{MODELS[1]}.sql").read_text()
    # the run resolved the touched users only, and read the changed memberships and re-stitched rows
    assert "continuing_users as" in sql and "memberships_used as" in sql and "inner join built" in sql
    with duckdb.connect(str(db), read_only=True) as con:
        (latest_write,) = con.sql(
            "select max(_built_at) from intermediate.int_events_matched_to_account_rules"
        ).fetchone()
    _dbt(tmp_path, db)  # again, nothing new
    again = _identity(db)
    with duckdb.connect(str(db), read_only=True) as con:
        (rewritten,) = con.sql(
            "select count(*) from intermediate.int_events_matched_to_account_rules where _built_at > ?",
            params=[latest_write],
        ).fetchone()
    _dbt(tmp_path, db, "--full-refresh")
    full_refresh = _identity(db)

    matched_before = before[MODELS[1]].set_index("event_id")
    matched_after = incremental[MODELS[1]].set_index("event_id")
    # not vacuous: the re-stitched event changed user, the shortened membership moved old events
    assert matched_before.loc[restitched_id, "user_id"] != new_user
    assert matched_after.loc[restitched_id, "user_id"] == new_user
    common = matched_before.index.intersection(matched_after.index)
    old, new = matched_before.loc[common], matched_after.loc[common]
    moved = old["user_id"].eq(moved_user) & old["membership_account_id"].ne(new["membership_account_id"])
    assert moved.any()
    assert rewritten == 0
    for model in MODELS:
        pd.testing.assert_frame_equal(incremental[model], full_refresh[model], check_exact=True)
        pd.testing.assert_frame_equal(again[model], full_refresh[model], check_exact=True)


# -- the identity and staged events' data tests on an incremental run -----------------------------
# They read only the rows the run wrote (`where: __rewritten_rows__`, unique_in_rewritten_rows,
# assert_no_event_attributed_twice limited to the events the run resolved or staged); each check
# below plants a bad row, the way a faulty model or load would write it, and runs the real tests.

IDENTITY_TESTED = ["stg_product__events", *MODELS, "int_events_resolved_to_accounts", "unresolved_events"]
TESTS = [
    "test",
    "--select",
    *IDENTITY_TESTED,
    "base_product__events",  # read by the staged events' key test
    "assert_no_event_attributed_twice",
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
]
BUILD = [
    "build",
    "--select",
    *[f"+{m}" for m in IDENTITY_TESTED],
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
]


def _status(results: dict[str, str], name: str) -> str:
    matches = [status for test, status in results.items() if test == name or test.startswith(name + "_")]
    assert len(matches) == 1, (name, sorted(results))
    return matches[0]


@pytest.fixture(scope="module")
def tested_warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("identity_data_tests")
    db, held = _landed_without_last_day(tmp, days=21)
    full = _run(tmp, db, "full", *BUILD, "--full-refresh")
    assert full and all(status in ("success", "pass") for status in full.values()), full
    _land_last_day(tmp, db, held)
    incremental = _run(tmp, db, "incremental", *BUILD)
    incremental |= _run(tmp, db, "incremental_tests", *TESTS)
    assert all(status in ("success", "pass") for status in incremental.values()), incremental
    return {"tmp": tmp, "db": db}


def _copy_warehouse(warehouse: dict, label: str) -> Path:
    copy = warehouse["tmp"] / label / warehouse["db"].name
    copy.parent.mkdir()
    shutil.copyfile(warehouse["db"], copy)
    return copy


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql, params or []).fetchall()


def test_identity_tests_read_the_rows_the_run_wrote(tested_warehouse: dict) -> None:
    matched = "intermediate.int_events_matched_to_account_rules"
    ((latest, total),) = _rows(
        tested_warehouse["db"],
        f"select count(*) filter (where _built_at = (select max(_built_at) from {matched})), count(*) "
        f"from {matched}",
    )
    assert 0 < latest < total


def test_a_bad_new_row_fails_and_a_bad_old_row_is_not_retested(tested_warehouse: dict) -> None:
    db = _copy_warehouse(tested_warehouse, "planted_nulls")
    matched = "intermediate.int_events_matched_to_account_rules"
    latest = f"(select max(_built_at) from {matched})"
    _rows(
        db,
        f"update {matched} set is_stitched = null "
        f"where event_id = (select min(event_id) from {matched} where _built_at = {latest})",
    )
    _rows(
        db,
        f"update {matched} set resolution_rule = 'guessed' where event_id = ("
        f"select min(event_id) from {matched} where _built_at < {latest} and account_id is not null)",
    )
    results = _run(tested_warehouse["tmp"], db, "planted_nulls", *TESTS)
    assert _status(results, "not_null_int_events_matched_to_account_rules_is_stitched") == "fail"
    # the old row was tested by the run that wrote it
    assert _status(results, "accepted_values_int_events_matched_to_account_rules_resolution_rule") == "pass"
    everything = _run(
        tested_warehouse["tmp"], db, "planted_nulls_all", *TESTS, "--vars", "{test_all_rows: true}"
    )
    assert (
        _status(everything, "accepted_values_int_events_matched_to_account_rules_resolution_rule") == "fail"
    )


def test_a_new_event_sharing_an_old_events_id_fails_the_key_tests(tested_warehouse: dict) -> None:
    db = _copy_warehouse(tested_warehouse, "planted_duplicates")
    matched = "intermediate.int_events_matched_to_account_rules"
    # an old row carrying the key of a row of the latest write (identity), and a raw row landed
    # after the identity models' previous build with an old message id (staging)
    _rows(
        db,
        f"insert into {matched} select * replace ((select min(_built_at) from {matched}) as _built_at) "
        f"from {matched} where _built_at = (select max(_built_at) from {matched}) order by event_id limit 1",
    )
    _rows(
        db,
        "insert into raw_product.events by name select * replace ("
        " (select max(_loaded_at) from raw_product.events) as _loaded_at, 'again.jsonl' as _source_file) "
        "from raw_product.events where _loaded_at = (select min(_loaded_at) from raw_product.events) "
        "order by message_id limit 1",
    )
    results = _run(tested_warehouse["tmp"], db, "planted_duplicates", *TESTS)
    assert _status(results, "unique_in_rewritten_rows_int_events_matched_to_account_rules_event_id") == "fail"
    assert _status(results, "unique_among_landed_rows_stg_product__events_event_id") == "fail"


def test_a_new_event_lost_or_counted_twice_fails(tested_warehouse: dict) -> None:
    db = _copy_warehouse(tested_warehouse, "planted_outcomes")
    matched = "intermediate.int_events_matched_to_account_rules"
    ((lost,),) = _rows(
        db,
        f"select min(event_id) from {matched} "
        f"where _built_at = (select max(_built_at) from {matched}) and account_id is not null",
    )
    _rows(db, f"delete from {matched} where event_id = ?", [lost])
    results = _run(tested_warehouse["tmp"], db, "planted_outcomes", *TESTS)
    assert _status(results, "assert_no_event_attributed_twice") == "fail"


def test_a_key_feature_event_listed_twice_fails(tested_warehouse: dict) -> None:
    """The resolved view joins seeds/key_features on event_name: an event_name listed twice would
    attribute its events twice. The seed's key test and assert_no_event_attributed_twice catch it
    (the view has no unique test of its own: _identity__models.yml)."""
    db = _copy_warehouse(tested_warehouse, "planted_key_feature")
    matched = "intermediate.int_events_matched_to_account_rules"
    # a key feature used by an event of the latest write (the limited test checks those events)
    ((event_name,),) = _rows(
        db,
        f"select min(matched.event_name) from {matched} as matched "
        "inner join staging.key_features as features on matched.event_name = features.event_name "
        f"where matched._built_at = (select max(_built_at) from {matched}) "
        "and matched.account_id is not null",
    )
    assert event_name is not None
    _rows(
        db,
        "insert into staging.key_features "
        "select feature_name || '_again', event_name, weight from staging.key_features where event_name = ?",
        [event_name],
    )
    results = _run(
        tested_warehouse["tmp"],
        db,
        "planted_key_feature",
        "test",
        "--select",
        "key_features",
        "assert_no_event_attributed_twice",
        "--exclude-resource-type",
        "unit_test",
    )
    assert _status(results, "unique_key_features_event_name") == "fail"
    assert _status(results, "unique_key_features_feature_name") == "pass"
    assert _status(results, "assert_no_event_attributed_twice") == "fail"
