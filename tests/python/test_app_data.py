"""reports/data.py against a real demo warehouse: values, failure modes, caching, SQL injection."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from test_app_support import (
    HOSTILE_STRINGS,
    REPO_ROOT,
    copy_warehouse,
    demo_warehouse,
    query,
    require,
    tables,
)

from reports import data


@pytest.fixture
def warehouse(monkeypatch) -> Path:
    path = demo_warehouse()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    return path


@pytest.fixture
def private_warehouse(monkeypatch, tmp_path) -> Path:
    path = copy_warehouse(tmp_path / "published" / "health.duckdb")
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    return path


# -- failure modes ---------------------------------------------------------------------------------


def test_missing_warehouse_raises_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(tmp_path / "absent.duckdb"))
    with pytest.raises(data.WarehouseUnavailable, match="No published warehouse .*make run"):
        data.portfolio_summary()
    with pytest.raises(data.WarehouseUnavailable):
        data.account_detail("acc_00001")


def test_empty_file_raises_a_clear_error(monkeypatch, tmp_path):
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(empty))
    with pytest.raises(data.WarehouseUnavailable, match="empty"):
        data.priority_queue()


def test_a_file_that_is_not_duckdb_raises_a_clear_error(monkeypatch, tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(junk))
    with pytest.raises(data.WarehouseUnavailable, match="Cannot open"):
        data.portfolio_summary()


def test_missing_marts_are_named(monkeypatch, tmp_path):
    bare = tmp_path / "bare.duckdb"
    connection = duckdb.connect(str(bare))
    connection.execute("create schema marts; create table marts.unrelated (x integer)")
    connection.close()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(bare))
    with pytest.raises(data.MartMissing) as error:
        data.portfolio_summary()
    assert error.value.tables == (data.DIM_ACCOUNTS,)
    with pytest.raises(data.MartMissing):
        data.account_detail("acc_00001")
    fresh = data.freshness()
    assert not fresh["published"].any()
    assert len(fresh) == len(data.ALL_MARTS)


def test_optional_frames_are_none_when_their_mart_is_missing(private_warehouse):
    account_id = query("select min(account_id) as id from marts.dim_accounts", warehouse=private_warehouse)
    connection = duckdb.connect(str(private_warehouse))
    connection.execute(f"drop table if exists {data.ALERTS}")
    connection.close()
    data.clear_cache()
    frames = data.account_detail(account_id["id"].iloc[0])
    assert frames["alerts"] is None
    assert len(frames["account"]) == 1


# -- values ----------------------------------------------------------------------------------------


def test_portfolio_summary_equals_dim_accounts(warehouse):
    expected = query(
        "select count(*) as n, sum(arr) as arr, count(*) filter (where is_at_risk) as n_risk, "
        "coalesce(sum(arr) filter (where is_at_risk), 0) as arr_risk from marts.dim_accounts"
    ).iloc[0]
    summary = data.portfolio_summary().iloc[0]
    assert summary["accounts"] == expected["n"] > 0
    assert float(summary["total_arr"]) == pytest.approx(float(expected["arr"]))
    assert summary["at_risk_accounts"] == expected["n_risk"]
    assert float(summary["at_risk_arr"]) == pytest.approx(float(expected["arr_risk"]))


def test_arr_by_band_adds_up_to_total_arr(warehouse):
    bands = data.arr_by_health_band()
    total = query(
        "select sum(arr) as arr, count(distinct health_band) as bands from marts.dim_accounts"
    ).iloc[0]
    assert len(bands) == total["bands"]
    assert float(bands["arr"].sum()) == pytest.approx(float(total["arr"]))


def test_at_risk_arr_is_the_latest_as_of_rows_of_the_mart(warehouse):
    expected = query(
        "select * from marts.mart_at_risk_arr "
        "where as_of_date = (select max(as_of_date) from marts.mart_at_risk_arr)"
    )
    frame = data.at_risk_arr()
    assert len(frame) == len(expected) > 0
    assert float(frame["at_risk_arr"].sum()) == pytest.approx(float(expected["at_risk_arr"].sum()))
    assert (frame["at_risk_arr"] <= frame["total_arr"]).all()


def test_priority_queue_is_ranked_and_filters(warehouse):
    mart = query("select * from marts.mart_cs_priority_queue order by priority_rank, account_id")
    queue = data.priority_queue()
    assert queue["account_id"].tolist() == mart["account_id"].tolist()
    assert queue["priority_rank"].is_monotonic_increasing
    owners = data.filter_options()["csm_owner"]
    owner = owners[0]
    filtered = data.priority_queue(csm_owners=[owner])
    expected = query(
        "select count(*) as n from marts.mart_cs_priority_queue as q "
        "inner join marts.dim_accounts as a on q.account_id = a.account_id where a.csm_owner = ?",
        [owner],
    )["n"].iloc[0]
    assert len(filtered) == expected > 0
    assert set(filtered["csm_owner"]) == {owner}
    assert len(data.priority_queue(limit=3)) == min(3, len(mart))


def test_account_detail_returns_every_frame_of_one_account(warehouse):
    account_id = query("select account_id from marts.mart_cs_priority_queue order by priority_rank limit 1")[
        "account_id"
    ].iloc[0]
    frames = data.account_detail(account_id)
    row = query("select * from marts.dim_accounts where account_id = ?", [account_id]).iloc[0]
    account = frames["account"].iloc[0]
    assert account["account_name"] == row["account_name"]
    assert float(account["health_score"]) == pytest.approx(float(row["health_score"]))
    history_rows = query(
        "select count(*) as n from marts.fct_account_health_daily where account_id = ?", [account_id]
    )["n"].iloc[0]
    assert len(frames["history"]) == history_rows > 0
    assert frames["history"]["date_day"].is_monotonic_increasing
    for name in ("movements", "alerts", "signals"):
        assert frames[name] is not None, name
    if frames["mrr"] is not None:
        mrr_rows = query(
            "select count(*) as n from marts.fct_mrr_movements where account_id = ?", [account_id]
        )
        assert len(frames["mrr"]) == mrr_rows["n"].iloc[0]
    assert data.account_detail("acc_does_not_exist")["account"].empty


def test_account_detail_lists_the_key_features_of_the_mart(warehouse):
    require(data.FEATURE_USAGE)
    account_id = query(
        "select account_id from marts.fct_account_feature_usage where is_adopted_30d "
        "group by account_id order by count(*) desc, account_id limit 1"
    )["account_id"].iloc[0]
    mart = query(
        "select feature, is_adopted_30d, active_users_30d, events_30d, last_used_on "
        "from marts.fct_account_feature_usage where account_id = ? order by feature",
        [account_id],
    )
    features = data.account_detail(account_id)["features"]
    assert len(features) == len(mart) > 0
    shown = features.sort_values("feature").reset_index(drop=True)
    assert shown["feature"].tolist() == mart["feature"].tolist()
    assert shown["is_adopted_30d"].tolist() == mart["is_adopted_30d"].tolist()
    assert shown["active_users_30d"].astype(int).tolist() == mart["active_users_30d"].astype(int).tolist()
    assert shown["events_30d"].astype(int).tolist() == mart["events_30d"].astype(int).tolist()
    pd.testing.assert_series_equal(shown["last_used_on"], mart["last_used_on"], check_names=False)
    # Used features first, the most active users first among them.
    assert features["is_adopted_30d"].tolist() == sorted(features["is_adopted_30d"], reverse=True)
    used = features[features["is_adopted_30d"]]["active_users_30d"].tolist()
    assert used == sorted(used, reverse=True)


def test_account_detail_reads_the_two_daily_frames_in_one_query(warehouse):
    account_id = query("select min(account_id) as id from marts.dim_accounts")["id"].iloc[0]
    frames = data.account_detail(account_id)
    assert frames["history"].columns.tolist() == list(data.HISTORY_COLUMNS)
    assert frames["usage"].columns.tolist() == list(data.USAGE_COLUMNS)
    pd.testing.assert_series_equal(frames["history"]["date_day"], frames["usage"]["date_day"])
    expected = query(
        "select date_day, health_score, arr from marts.fct_account_health_daily "
        "where account_id = ? order by date_day",
        [account_id],
    )
    assert frames["history"]["health_score"].astype(float).tolist() == pytest.approx(
        expected["health_score"].astype(float).tolist()
    )
    shown_arr = frames["usage"]["arr"].astype(float).tolist()
    assert shown_arr == pytest.approx(expected["arr"].astype(float).tolist())


def test_account_detail_frames_from_numpy_equal_duckdbs_pandas_frames(warehouse):
    # account_detail builds its frames from fetchnumpy() (cheaper than .df()) and orders the rows
    # after the fetch (cheaper than DuckDB's ORDER BY): same values, same dtypes, same order and
    # limit as DuckDB's ORDER BY ... LIMIT gives to .df(), for every account of the demo and an
    # unknown one (empty frames).
    ids = query("select account_id from marts.dim_accounts order by account_id")["account_id"].tolist()
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        for account_id in [*ids, "acc_does_not_exist"]:
            for name, detail_query in data._account_queries(account_id).items():
                assert detail_query.numpy, name
                assert "order by" not in detail_query.sql.lower(), name
                expected = connection.execute(detail_query.ordered_sql(), list(detail_query.params)).df()
                result = data._execute(connection, detail_query, optional=False)
                pd.testing.assert_frame_equal(data._numpy_frame(result), expected, check_exact=True)
    finally:
        connection.close()


def test_account_detail_frames_read_once_per_file_equal_the_one_account_queries(warehouse):
    # The small marts of the account page are read once per file (`_AccountRows`) and sliced per
    # account; the daily mart is queried per account. Every account's frames, an unknown id and a
    # hostile one equal DuckDB's ORDER BY ... LIMIT of the one-account query through .df().
    ids = query("select account_id from marts.dim_accounts order by account_id")["account_id"].tolist()
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        for account_id in [*ids, "acc_does_not_exist", "x' or '1'='1"]:
            frames = data.account_detail(account_id)
            for name, detail_query in data._account_queries(account_id).items():
                expected = connection.execute(detail_query.ordered_sql(), list(detail_query.params)).df()
                if name == "daily":
                    assert not detail_query.all_accounts_sql
                    for part, columns in (("history", data.HISTORY_COLUMNS), ("usage", data.USAGE_COLUMNS)):
                        pd.testing.assert_frame_equal(frames[part], expected[list(columns)], check_exact=True)
                else:
                    assert detail_query.all_accounts_sql.startswith(
                        f"select account_id as {data.ACCOUNT_KEY}"
                    )
                    pd.testing.assert_frame_equal(frames[name], expected, check_exact=True)
    finally:
        connection.close()
    view = data._current_view
    assert view is not None and len(view.account_rows) == len(data._account_queries("x")) - 1


def test_account_rows_mask_only_the_nulls_of_the_account_as_duckdbs_fetch_does():
    # One account's slice of every account's rows: NULLs of other accounts leave its columns
    # unmasked (DuckDB's fetch masks a column only when the result has a NULL), a NULL id belongs
    # to no account, text is one object per distinct value, rows keep the table's order.
    sql = """
        select account_id, k, n, label, day, flag from (values
            ('a', 1, 10, 'x', date '2024-01-01', true),
            ('b', 2, null, null, null, null),
            ('a', 3, 11, 'x', date '2024-01-03', false),
            (null, 4, 12, 'y', date '2024-01-04', true),
            ('c', 5, null, 'z', date '2024-01-05', true),
            ('b', 6, 13, 'x', date '2024-01-06', true),
            ('c', 7, 14, null, null, null)
        ) as t(account_id, k, n, label, day, flag)
    """
    one_account = f"select k, n, label, day, flag from ({sql}) where account_id = ?"
    with duckdb.connect() as connection:
        rows = data._AccountRows(connection.execute(data._for_every_account(one_account)).fetchnumpy())
        assert sorted(rows.ranges) == ["a", "b", "c"]
        labels = rows.data["label"]
        assert labels[0] is labels[1]  # 'x' of both 'a' rows: one object
        for account_id in ("a", "b", "c", "d"):
            fetched = connection.execute(one_account, [account_id]).fetchnumpy()
            sliced = rows.of(account_id)
            assert list(sliced) == list(fetched)
            for name in fetched:
                assert isinstance(sliced[name], np.ma.MaskedArray) == isinstance(
                    fetched[name], np.ma.MaskedArray
                )
            pd.testing.assert_frame_equal(
                data._numpy_frame(sliced),
                connection.execute(one_account, [account_id]).df(),
                check_exact=True,
            )


def test_rows_ordered_after_the_fetch_follow_duckdbs_order_by():
    # Query.order on the fetched columns against DuckDB's ORDER BY ... NULLS LAST ... LIMIT: text
    # (by code point, with NULLs and non-ASCII), booleans, integers, doubles, dates, timestamps,
    # ascending and descending keys, ties broken by the next key, a hidden key, and a limit.
    rows = [
        (i, text, flag, number, ratio, day, moment)
        for i, (text, flag, number, ratio, day, moment) in enumerate(
            [
                ("b", True, 3, 0.5, "2026-01-02", "2026-01-02 10:00:00"),
                ("a", None, 3, None, None, "2026-01-02 09:00:00"),
                (None, False, None, 1.5, "2026-01-01", None),
                ("é", True, 1, 0.5, "2026-01-02", "2026-01-01 00:00:00"),
                ("B", False, 3, -2.0, "2026-01-03", "2026-01-02 10:00:00"),
                ("a", True, 2, 0.5, "2026-01-02", "2026-01-02 09:00:00"),
                ("ab", None, 7, 9.0, "2025-12-31", "2026-01-02 09:00:00"),
            ]
        )
    ]
    sql = """
        select id, text, flag, number, ratio, cast(day as date) as day, cast(moment as timestamp) as moment
        from (select unnest(?, recursive := true))
    """
    struct_rows = [
        dict(zip(("id", "text", "flag", "number", "ratio", "day", "moment"), row, strict=True))
        for row in rows
    ]
    orders = [
        (("text", False), ("id", False)),
        (("text", True), ("id", True)),
        (("flag", True), ("number", True), ("day", True), ("text", False), ("id", False)),
        (("ratio", False), ("moment", True), ("id", False)),
        (("moment", True), ("id", False)),
        (("day", False), ("flag", False), ("id", True)),
    ]
    with duckdb.connect() as connection:
        for order in orders:
            for limit in (None, 3):
                detail_query = data.Query(
                    sql, (struct_rows,), numpy=True, order=order, limit=limit, hidden=("id",)
                )
                expected = connection.execute(detail_query.ordered_sql(), list(detail_query.params)).df()
                result = data._execute(connection, detail_query, optional=False)
                assert "id" not in result
                pd.testing.assert_frame_equal(data._numpy_frame(result), expected, check_exact=True)


def test_numpy_frames_keep_nulls_as_duckdbs_pandas_frames_do():
    # Every NULL-able type the account page reads, with and without NULLs, and no rows at all.
    sql = """
        select * from (values
            (1, 10::bigint, 1.5::decimal(18,6), 2.5::double, date '2024-01-02',
             timestamp '2024-01-02 03:04:05', true, 'a', 'x', null::varchar),
            (2, null, null, null, null, null, null, null, 'y', null)
        ) as t(k, n, money, ratio, day, stamp, flag, label, full_label, no_label)
        where k <= ?
    """
    connection = duckdb.connect()
    try:
        for rows in (0, 1, 2):
            expected = connection.execute(sql, [rows]).df()
            frame = data._numpy_frame(connection.execute(sql, [rows]).fetchnumpy())
            pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    finally:
        connection.close()


def test_feature_adoption_by_outcome_is_the_mart(warehouse):
    require(data.ADOPTION_BY_OUTCOME)
    mart = query("select * from marts.mart_feature_adoption_by_outcome")
    frame = data.feature_adoption_by_outcome()
    assert len(frame) == len(mart) > 0
    assert sorted(frame["window_days"].unique().tolist()) == [30, 60, 90]
    merged = frame.merge(mart, on=["feature", "window_days", "outcome"], suffixes=("", "_mart"))
    assert len(merged) == len(mart)
    assert (merged["adopting_accounts"] == merged["adopting_accounts_mart"]).all()
    assert merged["adoption_rate"].tolist() == pytest.approx(merged["adoption_rate_mart"].tolist())


def test_account_detail_is_fast_from_a_warm_cache(warehouse):
    account_ids = query("select account_id from marts.dim_accounts order by account_id limit 5")["account_id"]
    for account_id in account_ids:
        data.account_detail(account_id)  # warm
    started = time.perf_counter()
    for account_id in account_ids:
        data.account_detail(account_id)
    per_call = (time.perf_counter() - started) / len(account_ids)
    assert per_call < 0.1, f"warm account_detail took {per_call * 1000:.0f} ms"


def test_data_health_reads_quality(warehouse):
    require("quality.rejected_records", "quality.run_log")
    rejected = data.rejected_records_by_reason()
    expected = query("select count(*) as n from quality.rejected_records")["n"].iloc[0]
    assert int(rejected["records"].sum()) == expected
    runs = data.run_log()
    assert "published" in set(runs["outcome"])


def test_data_health_functions_never_return_a_raw_payload(warehouse):
    require("quality.rejected_records", "quality.data_findings")
    email = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+")
    frames = [data.rejected_records_by_reason(), data.data_findings_by_type(), data.data_findings()]
    for frame in frames:
        assert "raw_payload" not in frame.columns
        assert not email.search(frame.astype(str).to_string())
    assert not hasattr(data, "rejected_records_sample")
    # the only mention of the column in the app is the comment saying why it is never read
    for path in (REPO_ROOT / "reports").rglob("*.py"):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not [
            line for line in code if "raw_payload" in line and "quality.rejected_records" not in line
        ], path


def test_data_findings_are_the_model_by_kind_and_filtered(private_warehouse):
    require("quality.data_findings")
    connection = duckdb.connect(str(private_warehouse))
    connection.execute(
        "insert into quality.data_findings "
        "(finding_id, finding_type, account_id, subject, detail, observed_on, arr) values "
        "('f1', 'stripe_customer_without_account', null, 'cus_Z9', 'ARR 2400.00', date '2026-11-20', 2400), "
        "('f2', 'stripe_customer_without_account', null, 'cus_Z8', 'ARR 0.00', date '2026-11-20', 0), "
        "('f3', 'usage_outside_subscription', 'acc_00002', 'acc_00002', '4 day(s)', date '2026-11-20', null)"
    )
    connection.close()
    data.clear_cache()
    expected = query(
        "select finding_type, count(*) as n, count(distinct account_id) as a, sum(arr) as arr "
        "from quality.data_findings group by 1",
        warehouse=private_warehouse,
    ).set_index("finding_type")
    by_type = data.data_findings_by_type().set_index("finding_type")
    assert by_type["findings"].to_dict() == expected["n"].to_dict()
    assert by_type["accounts"].to_dict() == expected["a"].to_dict()
    assert float(by_type.loc["stripe_customer_without_account", "arr"]) == 2400
    everything = data.data_findings()
    assert len(everything) == int(expected["n"].sum())
    unlinked = data.data_findings("stripe_customer_without_account")
    assert list(unlinked["subject"]) == ["cus_Z8", "cus_Z9"]
    assert list(data.data_findings("usage_outside_subscription")["account_id"]) == ["acc_00002"]
    assert len(data.data_findings(limit=1)) == 1


# -- caching follows the file, not a connection ----------------------------------------------------


def test_a_publish_that_replaces_the_file_is_seen_at_once(private_warehouse):
    before = data.portfolio_summary()["accounts"].iloc[0]
    _replace_with_one_account_fewer(private_warehouse)
    after = data.portfolio_summary()["accounts"].iloc[0]
    assert after == before - 1


def _replace_with_one_account_fewer(published: Path) -> None:
    """What the CLI's publish does: build a changed copy, then ``os.replace`` it over the file."""
    candidate = published.with_name("health.candidate.duckdb")
    shutil.copy2(published, candidate)
    connection = duckdb.connect(str(candidate))
    connection.execute(
        "delete from marts.dim_accounts where account_id = (select min(account_id) from marts.dim_accounts)"
    )
    connection.close()
    os.replace(candidate, published)


def test_one_view_per_file_stamp_is_reused_and_replaced_on_publish(private_warehouse):
    data.portfolio_summary()
    view = data._current_view
    assert view is not None and view.stamp == data.file_stamp()
    assert data.DIM_ACCOUNTS in view.tables  # table names are read once, when the view opens
    data.clear_cache()  # results only: the next calls run their queries on the same view
    data.account_detail("acc_00001")
    data.priority_queue()
    assert data._current_view is view
    before = data.portfolio_summary()["accounts"].iloc[0]
    _replace_with_one_account_fewer(private_warehouse)
    assert data.portfolio_summary()["accounts"].iloc[0] == before - 1
    assert data._current_view is not view and data._current_view.stamp == data.file_stamp()
    with pytest.raises(duckdb.ConnectionException):  # the old view was closed: nobody used it
        view.connection.execute("select 1")


def test_a_call_in_flight_during_a_publish_finishes_on_the_old_file(private_warehouse):
    before = data.portfolio_summary()["accounts"].iloc[0]
    old_stamp = data.file_stamp()
    with data._reading(old_stamp) as (cursor, _):  # a page of another session, mid-way
        old_view = data._current_view
        _replace_with_one_account_fewer(private_warehouse)
        assert data.portfolio_summary()["accounts"].iloc[0] == before - 1  # a new call: new file
        assert cursor.execute("select count(*) from marts.dim_accounts").fetchone()[0] == before
        old_view.connection.execute("select 1")  # still open while the old call runs
    with pytest.raises(duckdb.ConnectionException):  # closed by the last call that used it
        old_view.connection.execute("select 1")


def test_the_app_releases_the_file_when_asked_and_when_it_disappears(private_warehouse, tmp_path):
    data.portfolio_summary()
    data.close_connections()
    assert data._current_view is None
    connection = duckdb.connect(str(private_warehouse))  # a writer can open it again
    connection.close()
    data.clear_cache()
    data.portfolio_summary()
    view = data._current_view
    private_warehouse.rename(tmp_path / "moved.duckdb")
    with pytest.raises(data.WarehouseUnavailable):
        data.portfolio_summary()
    assert data._current_view is None
    with pytest.raises(duckdb.ConnectionException):
        view.connection.execute("select 1")


def test_concurrent_calls_from_threads_agree_with_sequential_ones(warehouse):
    from concurrent.futures import ThreadPoolExecutor

    ids = query("select account_id from marts.dim_accounts order by account_id")["account_id"].tolist()
    expected = {account_id: data.account_detail(account_id) for account_id in ids}
    data.clear_cache()

    def detail(account_id: str) -> tuple[str, dict]:
        return account_id, data.account_detail(account_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(detail, ids * 3))
    for account_id, frames in results:
        for name, frame in expected[account_id].items():
            if frame is None:
                assert frames[name] is None
            else:
                pd.testing.assert_frame_equal(frames[name], frame)
    assert data._current_view is not None and data._current_view.users == 0


# -- SQL injection ---------------------------------------------------------------------------------


def _row_counts(path: Path) -> dict[str, int]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema in ('marts', 'quality')"
            ).fetchall()
        ]
        return {name: connection.execute(f"select count(*) from {name}").fetchone()[0] for name in names}
    finally:
        connection.close()


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS)
def test_hostile_inputs_are_only_ever_values(private_warehouse, hostile):
    counts = _row_counts(private_warehouse)
    detail = data.account_detail(hostile)
    assert detail["account"].empty and detail["features"].empty and detail["history"].empty
    assert data.priority_queue(csm_owners=[hostile]).empty
    assert data.priority_queue(segments=[hostile]).empty
    assert data.priority_queue(quadrants=[hostile, hostile]).empty
    assert data.priority_queue(csm_owners=[hostile], segments=[hostile], quadrants=[hostile]).empty
    if "quality.data_findings" in tables(private_warehouse):
        assert data.data_findings(hostile).empty
    for function in (
        data.health_band_trend,
        data.arr_histogram,
        data.quadrant_movements,
        data.quadrant_flow,
        data.run_log,
    ):
        with pytest.raises(ValueError):
            function(hostile)  # numeric parameters go through int() before they reach SQL
    assert _row_counts(private_warehouse) == counts


def test_data_is_the_only_app_module_importing_duckdb_and_sql_is_constant():
    offenders = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "reports").rglob("*.py")
        if path.name != "data.py" and re.search(r"^\s*(import|from)\s+duckdb", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []
    source = (REPO_ROOT / "reports" / "data.py").read_text()
    # Only the module's table constants are formatted into SQL; user values never are.
    assert "(read_only)" in source  # the published file is only ever attached read-only
    assert re.findall(r"\{(?:account_id|reason|hostile|value)\}", source) == []
    schemas = {name.split(".")[0] for name in data.ALL_MARTS + (data.REJECTED_RECORDS, data.RUN_LOG)}
    assert schemas == {"marts", "quality"}


def test_frames_are_pandas(warehouse):
    assert isinstance(data.portfolio_summary(), pd.DataFrame)


def test_portfolio_batches_the_same_frames_as_the_single_functions(warehouse):
    frames = data.portfolio(26, 10)
    pd.testing.assert_frame_equal(frames["summary"], data.portfolio_summary())
    pd.testing.assert_frame_equal(frames["at_risk"], data.at_risk_arr())
    pd.testing.assert_frame_equal(frames["trend"], data.health_band_trend(26))
    histogram = frames["histogram"]
    assert float(histogram["arr"].sum()) == pytest.approx(float(frames["summary"]["total_arr"].iloc[0]))
    assert histogram["score_bin"].between(0, 90).all()
    assert frames["bands"]["health_band"].tolist() == data.band_order()


def test_health_band_trend_ends_on_the_latest_day_with_todays_arr(warehouse):
    trend = data.health_band_trend(26)
    latest = query(
        "select date_day, sum(arr) as arr, count(*) as n from marts.fct_account_health_daily "
        "where date_day = (select max(date_day) from marts.fct_account_health_daily) group by date_day"
    ).iloc[0]
    last = trend[trend["week_start"] == trend["week_start"].max()]
    assert pd.Timestamp(last["week_start"].iloc[0]) == pd.Timestamp(latest["date_day"])
    assert float(last["arr"].sum()) == pytest.approx(float(latest["arr"]))
    assert int(last["accounts"].sum()) == latest["n"]
