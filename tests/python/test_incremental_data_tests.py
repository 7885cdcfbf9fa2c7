"""An incremental run tests only the rows it rewrote; a full refresh tests every row (issue 9).

The incremental account-day models (int_usage_aggregated_to_account_days and the health chain's
int_usage_signals_rolled_to_account_days, int_cs_signals_rolled_to_account_days,
int_health_components_scored) store `_built_at`, the start of the run that wrote each row. Their
per-row data tests carry `where: __rewritten_rows__`, which macros/tests/rewritten_rows.sql turns
into "rows of the latest write" when the test runs; their key tests are unique_in_rewritten_rows,
which checks every row (old ones included) whose key is a key of the latest write.

A demo drop of 8 accounts x 45 days is landed with the real pipeline (dlt) and built with the
latest day and every third event of the two days before held back (test_usage_incremental's
helpers); the held-back events are then landed and the models built incrementally. Each test plants
bad rows into a copy of that warehouse, the way a faulty model would write them, and runs the real
dbt tests:
1. a null in a row the incremental run rewrote fails the test; the same null in an old row does not
   (it was tested when written), unless `--full-refresh` or `test_all_rows` asks for every row;
2. after a full refresh every row is the latest write, so bad old rows are caught;
3. for each of the four key tests, a duplicate between a new row and an old row is caught.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_support import dbt_statuses as _dbt
from test_usage_incremental import _hold_back_late_events, _land_held_back_events

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
END_DATE = dt.date(2026, 3, 31)
USAGE = "intermediate.int_usage_aggregated_to_account_days"
USAGE_SIGNALS = "intermediate.int_usage_signals_rolled_to_account_days"
CS_SIGNALS = "intermediate.int_cs_signals_rolled_to_account_days"
COMPONENTS = "intermediate.int_health_components_scored"
MODELS = [USAGE, USAGE_SIGNALS, CS_SIGNALS, COMPONENTS]
SELECT = ["--select", *[table.split(".")[1] for table in MODELS]]
# seeds and models up to the four (no tests: some of the upstream models' tests read models not built here)
BUILD_MODELS = [
    "build",
    "--select",
    "+int_health_components_scored",
    "--resource-type",
    "seed",
    "--resource-type",
    "model",
]
# the data tests of the four models alone (cautious: not tests that also read a model not built here)
DATA_TESTS = [*SELECT, "--exclude-resource-type", "unit_test", "--indirect-selection", "cautious"]


def _copy(warehouse: dict, label: str) -> Path:
    """A copy of the incremental warehouse under the same file name (views name the catalog)."""
    copy = warehouse["tmp"] / label / warehouse["db"].name
    copy.parent.mkdir()
    shutil.copyfile(warehouse["db"], copy)
    return copy


def _status(results: dict[str, str], prefix: str, table: str, column: str = "account_day_id") -> str:
    name = f"{prefix}_{table.split('.')[1]}_{column}"
    matches = [status for test, status in results.items() if test == name or test.startswith(name + "_")]
    assert len(matches) == 1, (name, sorted(results))
    return matches[0]


def _writes(db: Path, table: str) -> tuple[int, int]:
    """(rows of the latest write, all rows) of a table."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(
            f"select count(*) filter (where _built_at = (select max(_built_at) from {table})), count(*) "
            f"from {table}"
        ).fetchone()


def _plant_null(db: Path, table: str, column: str, *, latest_write: bool) -> str:
    """Set `column` null on one row of the latest write (or of an earlier one); its key."""
    pick = "=" if latest_write else "<"
    with duckdb.connect(str(db)) as con:
        (key,) = con.sql(
            f"select min(account_day_id) from {table} "
            f"where _built_at {pick} (select max(_built_at) from {table})"
        ).fetchone()
        assert key is not None, f"{table} has no row with _built_at {pick} the latest"
        con.execute(f"update {table} set {column} = null where account_day_id = ?", [key])
    return key


def _plant_duplicate(db: Path, table: str, *, new_and_old: bool) -> None:
    """One more row with the key of an existing one: an old row (earlier _built_at) carrying the
    key of a row of the latest write, or (new_and_old=False) a second old row with an old key."""
    with duckdb.connect(str(db)) as con:
        (earliest, latest) = con.sql(f"select min(_built_at), max(_built_at) from {table}").fetchone()
        assert earliest < latest, f"{table}: the incremental run wrote no rows of its own"
        source = latest if new_and_old else earliest
        con.execute(
            f"insert into {table} select * replace (cast(? as timestamp) as _built_at) "
            f"from {table} where _built_at = ? order by account_day_id limit 1",
            [earliest, source],
        )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("incremental_data_tests")
    drop, db = tmp / "drop", tmp / "wh.duckdb"
    generate(drop, accounts=8, days=45, end_date=END_DATE, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=str(tmp / "dlt"))
    assert _hold_back_late_events(db) > 0
    # seeds and every model the four read; then their data tests (the first build tests every row)
    full = _dbt(tmp, db, "full", *BUILD_MODELS)
    full |= _dbt(tmp, db, "full_tests", "test", *DATA_TESTS)
    assert full and all(status in ("success", "pass") for status in full.values()), full
    _land_held_back_events(db)
    incremental = _dbt(tmp, db, "incremental", *BUILD_MODELS)
    incremental |= _dbt(tmp, db, "incremental_tests", "test", *DATA_TESTS)
    assert all(status in ("success", "pass") for status in incremental.values()), incremental
    return {"tmp": tmp, "db": db}


def test_incremental_run_rewrote_only_some_rows(warehouse):
    for table in MODELS:
        latest, total = _writes(warehouse["db"], table)
        assert 0 < latest < total, (table, latest, total)


def test_bad_value_in_a_rewritten_row_fails_and_an_old_row_is_not_retested(warehouse):
    db = _copy(warehouse, "planted_nulls")
    _plant_null(db, USAGE_SIGNALS, "adopted_feature_weight_ratio", latest_write=True)
    _plant_null(db, USAGE, "account_id", latest_write=True)
    _plant_null(db, CS_SIGNALS, "account_day_id", latest_write=False)
    results = _dbt(warehouse["tmp"], db, "planted_nulls", "test", *DATA_TESTS)
    assert _status(results, "not_null", USAGE_SIGNALS, "adopted_feature_weight_ratio") == "fail"
    assert _status(results, "not_null", USAGE, "account_id") == "fail"
    # the old row was tested by the run that wrote it: the incremental run's test does not re-read it
    assert _status(results, "not_null", CS_SIGNALS) == "pass"
    assert _status(results, "not_null", COMPONENTS) == "pass"

    # --full-refresh (here on the CS signals' tests alone: a build skips the tests of a model whose
    # upstream test failed) tests every row again
    everything = _dbt(
        warehouse["tmp"],
        db,
        "planted_nulls_full_refresh",
        "build",
        "--select",
        CS_SIGNALS.split(".")[1],
        "--resource-type",
        "test",
        "--indirect-selection",
        "cautious",
        "--full-refresh",
    )
    assert _status(everything, "not_null", CS_SIGNALS) == "fail"


def test_full_refresh_tests_every_row(warehouse):
    db = _copy(warehouse, "full_refresh")
    rebuilt = _dbt(warehouse["tmp"], db, "full_refresh", "run", *SELECT, "--full-refresh")
    assert all(status == "success" for status in rebuilt.values()), rebuilt
    for table in MODELS:
        latest, total = _writes(db, table)
        assert latest == total, (table, latest, total)
    # the first day's rows, the oldest in the history, are tested after a full refresh
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"update {CS_SIGNALS} set account_day_id = null "
            f"where date_day = (select min(date_day) from {CS_SIGNALS})"
        )
    with duckdb.connect(str(db)) as con:
        con.execute(f"insert into {COMPONENTS} select * from {COMPONENTS} order by account_day_id limit 1")
    results = _dbt(warehouse["tmp"], db, "full_refresh_tests", "test", *DATA_TESTS)
    assert _status(results, "not_null", CS_SIGNALS) == "fail"
    assert _status(results, "unique_in_rewritten_rows", COMPONENTS) == "fail"


@pytest.mark.parametrize("new_and_old", [True, False], ids=["new_and_old_row", "two_old_rows"])
def test_duplicate_key_between_a_new_and_an_old_row_is_caught(warehouse, new_and_old):
    """Every limited key test catches a duplicate that involves a new row. A duplicate between two
    old rows is not re-checked by an incremental run (the run that wrote them checked them)."""
    label = "duplicates_" + ("new_old" if new_and_old else "old_old")
    db = _copy(warehouse, label)
    for table in MODELS:
        _plant_duplicate(db, table, new_and_old=new_and_old)
    results = _dbt(warehouse["tmp"], db, label, "test", *DATA_TESTS)
    expected = "fail" if new_and_old else "pass"
    assert {table: _status(results, "unique_in_rewritten_rows", table) for table in MODELS} == {
        table: expected for table in MODELS
    }


def test_all_rows_var_tests_every_row(warehouse):
    """`--vars '{test_all_rows: true}'` audits the whole history (last: a vars change re-parses)."""
    db = _copy(warehouse, "all_rows")
    _plant_null(db, CS_SIGNALS, "account_day_id", latest_write=False)
    limited = _dbt(warehouse["tmp"], db, "all_rows_limited", "test", *DATA_TESTS)
    assert _status(limited, "not_null", CS_SIGNALS) == "pass"
    audit = _dbt(warehouse["tmp"], db, "all_rows", "test", *DATA_TESTS, "--vars", "{test_all_rows: true}")
    assert _status(audit, "not_null", CS_SIGNALS) == "fail"


MATCHED = "intermediate.int_events_matched_to_account_rules"
USER_DAYS = "intermediate.int_usage_aggregated_to_account_user_days"
USER_DAYS_TESTS = ["--select", USER_DAYS.split(".")[1], "--exclude-resource-type", "unit_test"]


def _plant_ambiguous_user_day_key(db: Path, *, rewritten_day: bool) -> None:
    """Two matched events whose user-day keys collide (account 'amb_a' with user 'b_c', account
    'amb_a_b' with user 'c': both 'amb_a_b_c_<day>'), on a day of the match's latest write or, with
    rewritten_day=False, on a day it did not touch (and with an earlier _built_at)."""
    with duckdb.connect(str(db)) as con:
        (earliest, latest) = con.sql(f"select min(_built_at), max(_built_at) from {MATCHED}").fetchone()
        assert earliest < latest, "the incremental run rewrote no events"
        day_filter = "in" if rewritten_day else "not in"
        (day,) = con.sql(
            f"select min(event_date) from {MATCHED} where event_date {day_filter} "
            f"(select event_date from {MATCHED} where _built_at = ?) and user_id is not null",
            params=[latest],
        ).fetchone()
        assert day is not None
        for n, (account, user) in enumerate([("amb_a", "b_c"), ("amb_a_b", "c")]):
            con.execute(
                f"insert into {MATCHED} select * replace (? as event_id, ? as account_id, ? as user_id, "
                f"cast(? as timestamp) as _built_at) from {MATCHED} "
                "where event_date = ? and user_id is not null order by event_id limit 1",
                [f"planted_{n}", account, user, latest if rewritten_day else earliest, day],
            )


@pytest.mark.parametrize("rewritten_day", [True, False], ids=["rewritten_day", "untouched_day"])
def test_usage_view_key_tests_check_the_days_the_match_rewrote(warehouse, rewritten_day):
    """The user-day view's key tests read, on an incremental run, the days of the events the
    identity match wrote in its latest write (macros/tests/usage_view_rows.sql): a duplicated key on
    such a day fails; on another day it is left to a full audit (`test_all_rows`)."""
    label = "view_keys_" + ("rewritten" if rewritten_day else "untouched")
    db = _copy(warehouse, label)
    _plant_ambiguous_user_day_key(db, rewritten_day=rewritten_day)
    limited = _dbt(warehouse["tmp"], db, label, "test", *USER_DAYS_TESTS)
    expected = "fail" if rewritten_day else "pass"
    assert _status(limited, "unique", USER_DAYS, "account_user_day_id") == expected
    if not rewritten_day:
        audit = _dbt(
            warehouse["tmp"],
            db,
            label + "_audit",
            "test",
            *USER_DAYS_TESTS,
            "--vars",
            "{test_all_rows: true}",
        )
        assert _status(audit, "unique", USER_DAYS, "account_user_day_id") == "fail"
