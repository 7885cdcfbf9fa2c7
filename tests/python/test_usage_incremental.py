"""The incremental account-day usage model equals a full refresh after late events arrive.

A small demo drop is generated and landed with the real pipeline (dlt). Before the first build,
some events are held back: every event of the latest day (a new day for the next run) and every
third event of the two days before it (late events inside `usage_lookback_days`). The first build
covers the data without them; the held-back events are then put back into the raw tables, as a
later load would land them, and the incremental run is compared, row for row and column for column,
with a `--full-refresh` of the same model on the same data.

The identity models are incremental too (issue 9): the same comparison covers
int_events_matched_to_account_rules, after a membership has also been ended between the two runs,
so events far behind the lookback must be re-attributed by the incremental run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_support import built_rows, dbt_build

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

END_DATE = dt.date(2026, 3, 31)
USAGE_MODEL = "int_usage_aggregated_to_account_days"
IDENTITY_MODEL = "int_events_matched_to_account_rules"
# Everything the usage model needs, nothing downstream; tests run elsewhere (their own suites).
SELECT = ["--select", f"+{USAGE_MODEL}", "--exclude-resource-type", "test", "unit_test"]
EVENT_DATE = "cast(try_cast(timestamp as timestamptz) as date)"


def _dbt(tmp: Path, db: Path, *extra: str) -> None:
    dbt_build(tmp, db, *SELECT, *extra)


def _usage(db: Path) -> pd.DataFrame:
    return built_rows(db, f"intermediate.{USAGE_MODEL}", "account_day_id")


def _identity(db: Path) -> pd.DataFrame:
    return built_rows(db, f"intermediate.{IDENTITY_MODEL}", "event_id")


def _end_busiest_membership(db: Path) -> str:
    """End the membership behind most 'membership'-attributed events 10 days before the end; its user."""
    with duckdb.connect(str(db)) as con:
        user_id, account_id, valid_from = con.sql(
            f"""
            select memberships.user_id, memberships.account_id, memberships.valid_from
            from intermediate.{IDENTITY_MODEL} as matched
            inner join raw_product.account_memberships as memberships
                on matched.user_id = memberships.user_id and matched.account_id = memberships.account_id
            where matched.resolution_rule = 'membership' and coalesce(memberships.valid_to, '') = ''
            group by all
            order by count(*) desc, 1
            limit 1
            """
        ).fetchone()
        con.execute(
            "update raw_product.account_memberships set valid_to = ? "
            "where user_id = ? and account_id = ? and valid_from = ?",
            [str(END_DATE - dt.timedelta(days=10)), user_id, account_id, valid_from],
        )
    return user_id


def _hold_back_late_events(db: Path) -> int:
    """Move the latest day's events and every 3rd event of the 2 days before into holding tables."""
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists held_back")
        (latest,) = con.sql(f"select max({EVENT_DATE}) from raw_product.events").fetchone()
        con.execute(
            f"""
            create table held_back.message_ids as
            select message_id
            from (
                select
                    message_id,
                    {EVENT_DATE} as event_date,
                    row_number() over (order by message_id) as position
                from raw_product.events
            ) as events
            where event_date = ?
               or (event_date >= ? and event_date < ? and position % 3 = 0)
            """,
            [latest, latest - dt.timedelta(days=2), latest],
        )
        for table in ("events", "event_deliveries"):
            con.execute(
                f"create table held_back.{table} as select * from raw_product.{table} "
                "where message_id in (select message_id from held_back.message_ids)"
            )
            con.execute(
                f"delete from raw_product.{table} "
                "where message_id in (select message_id from held_back.message_ids)"
            )
        (held,) = con.sql("select count(*) from held_back.events").fetchone()
    return held


def _land_held_back_events(db: Path) -> None:
    """Put the held-back rows back as a later load lands them: with a later `_loaded_at` (dlt stamps
    every row of a load; the identity models read only rows loaded after what they have built)."""
    with duckdb.connect(str(db)) as con:
        (latest,) = con.sql("select max(_loaded_at) from raw_product.events").fetchone()
        for table in ("events", "event_deliveries"):
            con.execute(
                f"insert into raw_product.{table} by name "
                f"select * replace (? + interval 1 minute as _loaded_at) from held_back.{table}",
                [latest],
            )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("usage_incremental")
    drop, db = tmp / "drop", tmp / "wh.duckdb"
    generate(drop, accounts=8, days=21, end_date=END_DATE, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=str(tmp / "dlt"))
    return tmp, db


def test_incremental_run_after_late_events_equals_full_refresh(warehouse: tuple[Path, Path]) -> None:
    tmp, db = warehouse
    held = _hold_back_late_events(db)
    assert held > 0, "the drop must have events to hold back"

    _dbt(tmp, db, "--full-refresh")
    before = _usage(db)
    assert before["date_day"].max() == pd.Timestamp(END_DATE - dt.timedelta(days=1))

    identity_before = _identity(db)
    _land_held_back_events(db)
    moved_user = _end_busiest_membership(db)
    _dbt(tmp, db)  # incremental: recomputes the lookback window and adds the new day
    incremental = _usage(db)
    identity_incremental = _identity(db)

    _dbt(tmp, db, "--full-refresh")
    full_refresh = _usage(db)
    identity_full_refresh = _identity(db)

    # The ended membership re-attributed the user's older events (not vacuous), and the incremental
    # identity run equals a full refresh, every event and every column.
    def moved(frame: pd.DataFrame) -> pd.Series:
        return frame.loc[frame["user_id"] == moved_user].set_index("event_id")["resolution_rule"]

    common = moved(identity_before).index
    assert (moved(identity_incremental).loc[common] != moved(identity_before)).any()
    assert len(identity_incremental) > len(identity_before)
    pd.testing.assert_frame_equal(identity_incremental, identity_full_refresh, check_exact=True)

    # The late events changed the already built days, so the comparison below is not vacuous.
    late_days = [pd.Timestamp(END_DATE - dt.timedelta(days=offset)) for offset in (1, 2)]
    assert (
        incremental.loc[incremental["date_day"].isin(late_days), "events"].sum()
        > before.loc[before["date_day"].isin(late_days), "events"].sum()
    )
    assert incremental["date_day"].max() == pd.Timestamp(END_DATE)
    assert len(incremental) == len(full_refresh)
    pd.testing.assert_frame_equal(incremental, full_refresh, check_exact=True)


def _reland(con: duckdb.DuckDBPyConnection, source_file: str, drop_all: bool) -> None:
    """What the loader does to a file landed again (it merges on `_source_file`): rows the file no
    longer holds leave the raw tables, the others get the new load's `_loaded_at`."""
    for table in ("events", "event_deliveries"):
        if drop_all:
            con.execute(f"delete from raw_product.{table} where _source_file = ?", [source_file])
            continue
        con.execute(
            f"delete from raw_product.{table} where message_id = ("
            f"select min(message_id) from raw_product.{table} where _source_file = ?)",
            [source_file],
        )
        con.execute(
            f"update raw_product.{table} set _loaded_at = "
            f"(select max(_loaded_at) + interval 1 minute from raw_product.{table}) where _source_file = ?",
            [source_file],
        )


def test_a_day_whose_events_all_went_away_is_recomputed(warehouse: tuple[Path, Path]) -> None:
    """Two event files landed again in one load, one changed, one now empty: the identity models
    rebuild every event (a changed file), and the emptied day has no event left to point at it, so
    the usage run compares every built day after such a rebuild; the day falls to zero events, as
    in a full refresh."""
    tmp, db = warehouse
    _dbt(tmp, db, "--full-refresh")
    gone_day = END_DATE - dt.timedelta(days=12)  # both far behind usage_lookback_days
    changed_day = END_DATE - dt.timedelta(days=9)
    with duckdb.connect(str(db)) as con:
        files = {
            day: con.sql(
                f"select mode(_source_file) from raw_product.events where {EVENT_DATE} = ?", params=[day]
            ).fetchone()[0]
            for day in (gone_day, changed_day)
        }
        _reland(con, files[gone_day], drop_all=True)
        _reland(con, files[changed_day], drop_all=False)
    before = _usage(db)
    assert before.loc[before["date_day"] == pd.Timestamp(gone_day), "events"].sum() > 0

    _dbt(tmp, db)
    incremental = _usage(db)
    _dbt(tmp, db, "--full-refresh")
    full_refresh = _usage(db)
    # not vacuous: the full refresh lost (most of) the day's events
    assert (
        full_refresh.loc[full_refresh["date_day"] == pd.Timestamp(gone_day), "events"].sum()
        < before.loc[before["date_day"] == pd.Timestamp(gone_day), "events"].sum()
    )
    pd.testing.assert_frame_equal(incremental, full_refresh, check_exact=True)
