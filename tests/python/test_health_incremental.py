"""The incremental health chain equals a full refresh: after a new day, late events and a CRM edit far
behind the windows, after a scoring-config and key-feature seed change, and after a late CS touch
on the last day (a short re-read would miss the touches 31-89 days before it).

int_usage_signals_rolled_to_account_days, int_cs_signals_rolled_to_account_days,
int_health_components_scored and fct_account_health_daily replace only the days from the first
account-day whose input fingerprint changed (macros/cross_db/day_grain_incremental.sql). After each
incremental run a copy of the warehouse is rebuilt with `--full-refresh` and the four tables are
compared, every row and every column (fingerprints included).

A demo drop of 8 accounts x 60 days is landed with the real pipeline (dlt); the latest day and
every third event of the two days before are held back for the first build
(test_usage_incremental's helpers), then landed again as a later load would.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_support import dbt_command
from test_usage_incremental import _hold_back_late_events, _land_held_back_events

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

END_DATE = dt.date(2026, 3, 31)
TABLES = [
    "intermediate.int_usage_signals_rolled_to_account_days",
    "intermediate.int_cs_signals_rolled_to_account_days",
    "intermediate.int_health_components_scored",
    "marts.fct_account_health_daily",
]
# The chain and everything it reads; `run`, not `build`: seeds are loaded once (the config change
# below edits the loaded seed tables, as `dbt seed` would after a CSV edit), tests run elsewhere.
SELECT = ["--select", "+fct_account_health_daily"]


def _full_refresh_copy(tmp: Path, db: Path, label: str) -> Path:
    """The same raw data rebuilt from scratch; same file name (views name the database's catalog)."""
    reference = tmp / label / db.name
    reference.parent.mkdir()
    shutil.copyfile(db, reference)
    dbt_command(tmp, reference, "run", *SELECT, "--full-refresh")
    return reference


def _differences(db: Path, reference: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per table: rows here, rows in the reference, rows only here, rows only there."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"attach '{reference}' as reference (read_only)")
        for table in TABLES:
            # every column but _built_at, when the run that wrote the row started (not data)
            columns = "columns(lambda c: c <> '_built_at')"
            mine, theirs = f"select {columns} from {table}", f"select {columns} from reference.{table}"
            out[table] = tuple(
                con.sql(sql).fetchone()[0]
                for sql in (
                    f"select count(*) from {table}",
                    f"select count(*) from reference.{table}",
                    f"select count(*) from ({mine} except all {theirs})",
                    f"select count(*) from ({theirs} except all {mine})",
                )
            )
    return out


def _scalar(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).fetchone()[0]


def _reopen_earliest_closed_ticket(db: Path) -> str:
    """Reopen the first-opened closed ticket: open tickets change on every day since it closed."""
    with duckdb.connect(str(db)) as con:
        (ticket_id,) = con.sql(
            "select ticket_id from raw_crm.support_tickets where coalesce(closed_at, '') <> '' "
            "order by opened_at, ticket_id limit 1"
        ).fetchone()
        con.execute(
            "update raw_crm.support_tickets set closed_at = null, status = 'open' where ticket_id = ?",
            [ticket_id],
        )
    return ticket_id


def _change_config(db: Path) -> None:
    """Edit the loaded seeds: a slower recency decay for everyone, a heavier first key feature."""
    with duckdb.connect(str(db)) as con:
        changed = con.execute(
            # parameter_value is text (depth_method is a word): the number is doubled as a number
            "update staging.scoring_config "
            "set parameter_value = cast(cast(parameter_value as double) * 2 as varchar) "
            "where parameter_name = 'recency_half_life_days' and segment = '*' returning 1"
        ).fetchall()
        assert changed, "the seed must have a default recency half-life"
        con.execute(
            "update staging.key_features set weight = weight + 1 "
            "where feature_name = (select min(feature_name) from staging.key_features)"
        )


def _add_late_cs_touch(db: Path, day: dt.date) -> str:
    """A human CS touch on `day` for the account with most human touches 31-89 days before it."""
    with duckdb.connect(str(db)) as con:
        (account_id,) = con.sql(
            "select account_id from raw_crm.cs_activities "
            "where is_automated = 'false' and cast(left(occurred_at, 10) as date) between ? and ? "
            "group by account_id order by count(*) desc, account_id limit 1",
            params=[day - dt.timedelta(days=89), day - dt.timedelta(days=31)],
        ).fetchone()
        con.execute(
            "insert into raw_crm.cs_activities "
            "select * replace ('act_late_test' as activity_id, ? as occurred_at, 'negative' as sentiment) "
            "from raw_crm.cs_activities where account_id = ? and is_automated = 'false' "
            "order by activity_id limit 1",
            [f"{day}T10:00:00+00:00", account_id],
        )
    return account_id


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("health_incremental")
    drop, db = tmp / "drop", tmp / "wh.duckdb"
    generate(drop, accounts=8, days=60, end_date=END_DATE, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=str(tmp / "dlt"))
    return tmp, db


def test_incremental_health_chain_equals_full_refresh(warehouse: tuple[Path, Path]) -> None:
    tmp, db = warehouse
    assert _hold_back_late_events(db) > 0
    dbt_command(tmp, db, "seed")
    dbt_command(tmp, db, "run", *SELECT, "--full-refresh")
    fct = "marts.fct_account_health_daily"
    last_day = _scalar(db, f"select max(date_day) from {fct}")
    open_before = _scalar(
        db, "select sum(open_tickets) from intermediate.int_cs_signals_rolled_to_account_days"
    )

    # A new day, late events inside the lookback, a ticket reopened long before the 30-day windows.
    _land_held_back_events(db)
    _reopen_earliest_closed_ticket(db)
    dbt_command(tmp, db, "run", *SELECT)
    assert _scalar(db, f"select max(date_day) from {fct}") == last_day + dt.timedelta(days=1)
    open_after = _scalar(
        db, "select sum(open_tickets) from intermediate.int_cs_signals_rolled_to_account_days"
    )
    assert open_after > open_before, "the reopened ticket counts on the days since it closed"
    differences = _differences(db, _full_refresh_copy(tmp, db, "reference_new_day"))
    assert all(d[0] == d[1] and d[2] == d[3] == 0 for d in differences.values()), differences

    # Config and seed changes: every day is rescored, and still equals a full refresh.
    # The first 30 days' scores move too: far behind every window, so only the fingerprints see it.
    early_scores = (
        f"select sum(recency_score) + sum(adoption_score) from {fct} "
        f"where date_day < date '{last_day - dt.timedelta(days=30)}'"
    )
    scores_before = _scalar(db, early_scores)
    _change_config(db)
    dbt_command(tmp, db, "run", *SELECT)
    assert _scalar(db, early_scores) != scores_before
    differences = _differences(db, _full_refresh_copy(tmp, db, "reference_config"))
    assert all(d[0] == d[1] and d[2] == d[3] == 0 for d in differences.values()), differences

    # A late CS touch on the last day: only that day is reprocessed, over the whole 90/180-day windows.
    account_id = _add_late_cs_touch(db, last_day + dt.timedelta(days=1))
    touches = (
        "select human_touches_90d from intermediate.int_cs_signals_rolled_to_account_days "
        f"where account_id = '{account_id}' and date_day = date '{last_day + dt.timedelta(days=1)}'"
    )
    touches_before = _scalar(db, touches)
    dbt_command(tmp, db, "run", *SELECT)
    assert _scalar(db, touches) == touches_before + 1
    differences = _differences(db, _full_refresh_copy(tmp, db, "reference_late_touch"))
    assert all(d[0] == d[1] and d[2] == d[3] == 0 for d in differences.values()), differences

    # A run without new data replaces nothing and changes nothing.
    dbt_command(tmp, db, "run", *SELECT)
    differences = _differences(db, tmp / "reference_late_touch" / db.name)
    assert all(d[0] == d[1] and d[2] == d[3] == 0 for d in differences.values()), differences
