"""Every page of the app, rendered by streamlit.testing's AppTest over a real demo warehouse.

Each test asserts what a person would read on the page (values taken independently from the marts),
that no exception was raised, and that a missing warehouse is a message, not a traceback.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_app_support import REPO_ROOT, copy_warehouse, demo_warehouse, query, require, tables

from reports import components as ui
from reports import data

APP = str(REPO_ROOT / "reports" / "app.py")
# Each page and the published tables it reads (models/marts/_exposures.yml says the same to dbt).
PAGE_TABLES = {
    "portfolio": ["marts.dim_accounts", "marts.fct_account_health_daily", "marts.mart_at_risk_arr"],
    "priority_queue": ["marts.mart_cs_priority_queue", "marts.dim_accounts"],
    "account_detail": [
        "marts.dim_accounts",
        "marts.fct_account_health_daily",
        "marts.fct_quadrant_movements",
        "marts.fct_health_alerts",
        "marts.fct_expansion_signals",
        "marts.fct_mrr_movements",
        "marts.fct_account_feature_usage",
    ],
    "quadrant_review": [
        "marts.fct_quadrant_movements",
        "marts.dim_accounts",
        "marts.mart_embedded_accounts_deteriorating",
        "marts.mart_quadrant_distribution_monthly",
        "marts.mart_quadrant_churn_quarterly",
    ],
    "revenue": ["marts.mart_revenue_retention", "marts.fct_mrr_movements", "marts.mart_cohort_retention"],
    "product": [
        "marts.mart_feature_adoption",
        "marts.mart_feature_adoption_by_outcome",
        "marts.mart_activation",
        "marts.mart_event_usage_by_quadrant",
        "marts.mart_event_taxonomy",
    ],
    "model_accuracy": [
        "marts.mart_score_backtest",
        "marts.mart_score_backtest_accuracy",
        "marts.mart_churn_calibration",
    ],
    "data_health": [
        "quality.rejected_records",
        "quality.run_log",
        "quality.data_findings",
        "marts.mart_alerts_monthly",
    ],
}
PAGES = list(PAGE_TABLES)


@pytest.fixture
def warehouse(monkeypatch):
    path = demo_warehouse()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    return path


def open_page(page: str, **query_params: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    for key, value in query_params.items():
        app.query_params[key] = value
    app.run()
    if page != "portfolio":
        app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def texts(app: AppTest) -> str:
    parts = [item.value for item in app.markdown] + [item.value for item in app.caption]
    parts += [item.value for item in app.header] + [item.value for item in app.subheader]
    parts += [item.value for item in app.title]
    return "\n".join(str(part) for part in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_errors_or_warnings(warehouse, page):
    require(*PAGE_TABLES[page])
    app = open_page(page)
    assert not app.error, [item.value for item in app.error]
    missing = [item.value for item in app.warning if "not in the published warehouse" in item.value]
    assert not missing, missing


@pytest.mark.parametrize("page", PAGES)
def test_a_missing_warehouse_is_a_message_on_every_page(monkeypatch, tmp_path, page):
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(tmp_path / "nowhere" / "health.duckdb"))
    data.clear_cache()
    app = open_page(page)
    assert app.error, "expected an error message"
    assert ui.MISSING_WAREHOUSE_TITLE in app.error[0].value
    assert "make run" in app.error[0].value


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_warehouse_is_a_message_on_every_page(monkeypatch, tmp_path, page):
    import duckdb

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a valid DuckDB file with no marts at all
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(empty))
    data.clear_cache()
    app = open_page(page)
    messages = [item.value for item in app.warning] + [item.value for item in app.error]
    assert any("not in the published warehouse" in text for text in messages), messages


def test_portfolio_shows_the_book_of_business(warehouse):
    expected = query(
        "select count(*) as n, sum(arr) as arr, count(*) filter (where is_at_risk) as n_risk, "
        "coalesce(sum(arr) filter (where is_at_risk), 0) as arr_risk from marts.dim_accounts"
    ).iloc[0]
    shown = metrics(open_page("portfolio"))
    assert shown["Accounts"] == ui.number(expected["n"])
    assert shown["ARR"] == ui.money(expected["arr"])
    assert shown["At-risk accounts"] == ui.number(expected["n_risk"])
    assert shown["At-risk ARR"] == ui.money(expected["arr_risk"])


def test_portfolio_draws_its_four_charts_and_the_at_risk_table(warehouse):
    app = open_page("portfolio")
    charts = app.get("vega_lite_chart")
    assert len(charts) == 4
    table = app.dataframe[0].value
    mart = query(
        "select * from marts.mart_at_risk_arr "
        "where as_of_date = (select max(as_of_date) from marts.mart_at_risk_arr)"
    )
    assert len(table) == len(mart)
    assert float(table["at_risk_arr"].sum()) == pytest.approx(float(mart["at_risk_arr"].sum()))


def test_priority_queue_lists_the_mart_in_rank_order_and_filters(warehouse):
    app = open_page("priority_queue")
    mart = query("select * from marts.mart_cs_priority_queue order by priority_rank, account_id")
    shown = app.dataframe[0].value
    assert shown["account_id"].tolist() == mart["account_id"].tolist()
    assert shown["reasons"].tolist() == mart["reasons"].tolist()
    assert len(app.get("download_button")) == 1

    owner = app.multiselect[0].options[0]
    app.multiselect[0].set_value([owner]).run()
    filtered = app.dataframe[0].value
    expected = query(
        "select q.account_id from marts.mart_cs_priority_queue as q inner join marts.dim_accounts as a "
        "on q.account_id = a.account_id where a.csm_owner = ? order by q.priority_rank, q.account_id",
        [owner],
    )
    assert filtered["account_id"].tolist() == expected["account_id"].tolist()
    assert f"{len(expected)} accounts" in texts(app)


def test_account_detail_shows_the_requested_account(warehouse):
    account_id = query("select account_id from marts.mart_cs_priority_queue order by priority_rank limit 1")[
        "account_id"
    ].iloc[0]
    row = query("select * from marts.dim_accounts where account_id = ?", [account_id]).iloc[0]
    app = open_page("account_detail", account_id=account_id)
    assert app.selectbox[0].value == account_id
    assert f"{row['account_name']}  ·  {account_id}" in texts(app)
    shown = metrics(app)
    assert shown["Health score"] == ui.number(row["health_score"])
    assert shown["Usage score"] == ui.number(row["usage_score"])
    assert shown["Relationship score"] == ui.number(row["relationship_score"])
    assert shown["Quadrant"] == row["quadrant"]
    assert shown["ARR"] == ui.money(row["arr"])
    assert shown["Active users (30 d) / seats"] == (
        f"{ui.number(row['active_users_30d'])} / {ui.number(row['licensed_seats'])}"
    )
    has_nps = query(
        "select count(avg_nps_180d) + count(avg_nps_last_90d) as n from marts.fct_account_health_daily "
        "where account_id = ?",
        [account_id],
    )["n"].iloc[0]
    # scores, components, quadrant history, active users vs seats, and the NPS trend when there is one
    assert len(app.get("vega_lite_chart")) == 4 + (1 if has_nps else 0)


def test_account_detail_says_why_a_quadrant_is_unknown(monkeypatch, tmp_path):
    path = copy_warehouse(tmp_path / "health.duckdb")
    connection = duckdb.connect(str(path))
    try:
        account_id = connection.execute("select min(account_id) from marts.dim_accounts").fetchone()[0]
        connection.execute(
            "update marts.dim_accounts set quadrant = null, relationship_score = null, "
            "quadrant_status = 'relationship_unknown' where account_id = ?",
            [account_id],
        )
    finally:
        connection.close()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    app = open_page("account_detail", account_id=account_id)
    shown = metrics(app)
    assert shown["Quadrant"] == "unknown (relationship unknown)"
    assert shown["Relationship score"] == ui.number(None)
    assert "Quadrant **unknown (relationship unknown)**" in texts(app)
    assert "None" not in texts(app)


def _features_table(app: AppTest) -> pd.DataFrame:
    tables = [frame.value for frame in app.dataframe if "is_adopted_30d" in frame.value.columns]
    assert len(tables) == 1, [frame.value.columns.tolist() for frame in app.dataframe]
    return tables[0]


def test_account_detail_shows_the_key_features_used(warehouse):
    require(*PAGE_TABLES["account_detail"])
    account_id = query(
        "select account_id from marts.fct_account_feature_usage where is_adopted_30d "
        "group by account_id order by count(*) desc, account_id limit 1"
    )["account_id"].iloc[0]
    mart = query(
        "select * from marts.fct_account_feature_usage where account_id = ? order by feature", [account_id]
    )
    app = open_page("account_detail", account_id=account_id)
    assert "Key features used" in texts(app)
    shown = _features_table(app).sort_values("feature").reset_index(drop=True)
    assert shown["feature"].tolist() == mart["feature"].tolist()
    assert shown["is_adopted_30d"].tolist() == mart["is_adopted_30d"].tolist()
    assert shown["active_users_30d"].astype(int).tolist() == mart["active_users_30d"].astype(int).tolist()
    used = shown[shown["is_adopted_30d"]]
    assert not used.empty and used["last_used_on"].notna().all()
    as_of = pd.Timestamp(mart["as_of_date"].max())
    assert f"30 days up to {as_of:%Y-%m-%d}" in texts(app)


def test_account_detail_says_when_key_feature_usage_is_not_published(monkeypatch, tmp_path):
    import duckdb
    from test_app_support import copy_warehouse

    path = copy_warehouse(tmp_path / "health.duckdb")
    connection = duckdb.connect(str(path))
    connection.execute("drop table marts.fct_account_feature_usage")
    connection.close()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    app = open_page("account_detail")
    assert any("key feature usage" in item.value for item in app.info)
    assert not app.error


def test_account_detail_shows_an_override_and_its_note(warehouse):
    overridden = query(
        "select account_id, override_note from marts.dim_accounts "
        "where has_override order by account_id limit 1"
    )
    if overridden.empty:
        pytest.skip("the demo company has no account with an active override")
    account_id, note = overridden.iloc[0]
    app = open_page("account_detail", account_id=account_id)
    warnings = [item.value for item in app.warning]
    assert any("CSM override" in text and (note or "(no note)") in text for text in warnings), warnings


def test_account_detail_switches_account_from_the_picker(warehouse):
    ids = query("select account_id, account_name from marts.dim_accounts order by account_id limit 2")
    app = open_page("account_detail")
    app.selectbox[0].set_value(ids["account_id"].iloc[1]).run()
    assert f"{ids['account_name'].iloc[1]}  ·  {ids['account_id'].iloc[1]}" in texts(app)
    assert app.query_params["account_id"] == ids["account_id"].iloc[1]


def test_account_detail_with_an_unknown_id_falls_back_with_a_warning(warehouse):
    app = open_page("account_detail", account_id="acc_99999' or 1=1 --")
    assert any("Unknown account id" in item.value for item in app.warning)
    first = query("select min(account_id) as id from marts.dim_accounts")["id"].iloc[0]
    assert app.selectbox[0].value == first


def test_quadrant_review_lists_recent_moves_needing_attention(warehouse):
    app = open_page("quadrant_review")
    expected = query(
        "select count(*) as n from marts.fct_quadrant_movements where needs_attention and "
        "week_start > (select max(week_start) from marts.fct_quadrant_movements) - interval 56 day"
    )["n"].iloc[0]
    if expected == 0:
        assert any("No movements" in item.value for item in app.info)
    else:
        movements = frame_with(app, "needs_attention")
        assert len(movements) == expected
        assert movements["needs_attention"].all()
    app.toggle[0].set_value(False).run()
    everything = query(
        "select count(*) as n from marts.fct_quadrant_movements where "
        "week_start > (select max(week_start) from marts.fct_quadrant_movements) - interval 56 day"
    )["n"].iloc[0]
    assert len(frame_with(app, "needs_attention")) == everything


def frame_with(app: AppTest, column: str) -> pd.DataFrame:
    """The one table on the page that has ``column``."""
    frames = [item.value for item in app.dataframe if column in item.value.columns]
    assert len(frames) == 1, [list(item.value.columns) for item in app.dataframe]
    return frames[0]


def test_quadrant_review_lists_embedded_accounts_whose_health_falls(warehouse):
    require(*PAGE_TABLES["quadrant_review"])
    mart = query("select * from marts.mart_embedded_accounts_deteriorating")
    app = open_page("quadrant_review")
    high = mart[mart["arr_band"] == "high"]
    if high.empty:
        assert any("No embedded account is deteriorating" in item.value for item in app.info)
    else:
        shown = frame_with(app, "largest_decline_component")
        assert list(shown["account_id"]) == list(
            high.sort_values(["arr", "health_score_delta_30d", "account_id"], ascending=[False, True, True])[
                "account_id"
            ]
        )
        assert f"**{len(high)} accounts**, {ui.money(high['arr'].sum())} ARR (high-ARR only)" in texts(app)
    app.toggle[1].set_value(False).run()
    assert not app.exception
    if mart.empty:
        assert any("No embedded account is deteriorating" in item.value for item in app.info)
    else:
        shown = frame_with(app, "largest_decline_component")
        assert set(shown["account_id"]) == set(mart["account_id"])
        assert (shown["usage_score"] >= 70).all() and (shown["health_score_delta_30d"] <= -10).all()


def test_quadrant_review_charts_the_monthly_distribution_and_churn_by_quadrant(warehouse):
    require(*PAGE_TABLES["quadrant_review"])
    churn = query("select * from marts.mart_quadrant_churn_quarterly")
    distribution = query("select * from marts.mart_quadrant_distribution_monthly")
    assert len(distribution) > 0
    shown = data.quadrant_distribution_monthly()
    first = distribution.loc[distribution["quadrant"].notna(), "month_start"].min()
    assert len(shown) == int((distribution["month_start"] >= first).sum())
    # every month's shares add up to one: the unknown reasons are counted, not dropped
    sums = distribution.groupby("month_start")["account_share"].sum()
    assert sums.tolist() == pytest.approx([1.0] * len(sums))
    app = open_page("quadrant_review")
    headings = texts(app)
    assert "Quadrant distribution by month" in headings and "Churn rate by quadrant per quarter" in headings
    charts = app.get("vega_lite_chart")
    assert len(charts) == (1 if churn.empty else 2)
    if not churn.empty:
        table = frame_with(app, "churn_rate_vs_champions")
        assert len(table) == len(churn)
        assert int(table["churned_accounts"].sum()) == int(churn["churned_accounts"].sum())
        complete = churn[churn["is_complete"]]
        if not complete.empty:
            last = complete[complete["quarter_start"] == complete["quarter_start"].max()]
            for row in last.itertuples(index=False):
                assert (
                    f"{row.quadrant} {ui.percent(row.churn_rate)} "
                    f"({ui.number(row.churned_accounts)} of {ui.number(row.accounts)})"
                ) in headings


def test_revenue_shows_the_latest_month_of_the_retention_mart(warehouse):
    require(*PAGE_TABLES["revenue"])
    latest = query("select * from marts.mart_revenue_retention order by month_start desc limit 1").iloc[0]
    app = open_page("revenue")
    shown = metrics(app)
    assert shown["NRR"] == ui.percent(latest["nrr"])
    assert shown["GRR"] == ui.percent(latest["grr"])
    assert shown[f"Starting MRR ({pd.Timestamp(latest['month_start']):%Y-%m})"] == ui.money(
        latest["starting_mrr"]
    )
    assert len(app.get("vega_lite_chart")) == 3  # NRR/GRR lines, MRR bridge, cohort heatmap


def test_product_shows_feature_adoption(warehouse):
    require(*PAGE_TABLES["product"])
    mart = query("select * from marts.mart_feature_adoption")
    app = open_page("product")
    table = app.dataframe[0].value
    assert len(table) == len(mart) > 0
    assert set(table["feature"]) == set(mart["feature"])
    cohorts = query("select * from marts.mart_activation order by signup_month")
    shown = app.dataframe[2].value
    assert len(shown) == len(cohorts)
    assert int(shown["activated_accounts"].sum()) == int(cohorts["activated_accounts"].sum())


def test_product_shows_adoption_of_renewed_vs_churned_accounts(warehouse):
    require(*PAGE_TABLES["product"])
    mart = query("select * from marts.mart_feature_adoption_by_outcome")
    app = open_page("product")
    assert "Adoption before renewal: renewed vs churned" in texts(app)
    # quadrant heatmap, renewed-vs-churned bars, activation
    assert len(app.get("vega_lite_chart")) == 3
    table = app.dataframe[1].value
    assert len(table) == len(mart) > 0
    merged = table.merge(mart, on=["feature", "window_days", "outcome"], suffixes=("", "_mart"))
    assert len(merged) == len(mart)
    assert merged["adoption_rate"].tolist() == pytest.approx(merged["adoption_rate_mart"].tolist())

    window = app.radio[0]
    assert window.options == ["30 days", "60 days", "90 days"] and window.value == 90
    sizes = mart[mart["window_days"] == 90].drop_duplicates("outcome").set_index("outcome")["accounts"]
    caption = texts(app)
    for outcome, accounts in sizes.items():
        assert f"{ui.number(accounts)} {outcome}" in caption
    assert "in the 90 days before the renewal date" in caption
    window.set_value(30).run()
    assert not app.exception
    assert "in the 30 days before the renewal date" in texts(app)


def test_product_shows_the_cross_quadrant_view_and_the_event_taxonomy(warehouse):
    require(*PAGE_TABLES["product"])
    app = open_page("product")
    assert "Event taxonomy and renewal" in texts(app)
    taxonomy = query("select * from marts.mart_event_taxonomy")
    shown = frame_with(app, "renewal_rate_lift")
    assert len(shown) == len(taxonomy) > 0
    merged = shown.merge(taxonomy, on="event_name", suffixes=("", "_mart"))
    assert merged["used_accounts"].tolist() == merged["used_accounts_mart"].tolist()
    assert merged["renewal_rate_used"].fillna(-1).tolist() == pytest.approx(
        merged["renewal_rate_used_mart"].fillna(-1).tolist()
    )
    window = int(taxonomy["renewal_window_days"].iloc[0])
    decided = int(taxonomy["outcome_accounts"].iloc[0])
    assert f"Renewal rate of the {ui.number(decided)} accounts with a decided renewal" in texts(app)
    assert f"in the {window} days before it" in texts(app)

    champions = query(
        "select event_name from marts.mart_event_usage_by_quadrant where quadrant = 'Champions' "
        "and usage_rate_gap > 0 order by usage_rate_gap desc, using_accounts desc, event_name limit 10"
    )
    frustrated = query(
        "select event_name from marts.mart_event_usage_by_quadrant where quadrant = 'Frustrated Power Users' "
        "and using_accounts > 0 order by usage_rank limit 10"
    )
    gap_tables = [item.value for item in app.dataframe if "usage_rate_gap" in item.value.columns]
    expected = [frame for frame in (champions, frustrated) if not frame.empty]
    assert len(gap_tables) == len(expected)
    for table, rows in zip(gap_tables, expected, strict=True):
        assert list(table["event_name"]) == list(rows["event_name"])


def test_model_accuracy_shows_the_backtest_of_the_longest_horizon(warehouse):
    require(*PAGE_TABLES["model_accuracy"])
    horizon = query("select max(horizon_days) as h from marts.mart_score_backtest")["h"].iloc[0]
    version = query("select max(config_version) as v from marts.dim_accounts")["v"].iloc[0]
    rows = query(
        "select * from marts.mart_score_backtest where horizon_days = ? and config_version = ?",
        [int(horizon), version],
    )
    app = open_page("model_accuracy")
    # the version that scored the published history is the one shown by default
    assert app.selectbox[1].value == version
    table = app.dataframe[0].value
    assert len(table) == len(rows) > 0
    assert int(table["churned_accounts"].sum()) == int(rows["churned_accounts"].sum())
    # the flag's precision, pooled over scoring dates (counts summed, then divided)
    pooled = query(
        "select sum(flagged_churned_accounts) as hit, sum(flagged_accounts) as flagged, "
        "sum(scored_accounts) as scored from marts.mart_score_backtest_accuracy "
        "where horizon_days = ? and config_version = ?",
        [int(horizon), version],
    ).iloc[0]
    metrics = {metric.label: metric.value for metric in app.metric}
    expected = ui.percent(pooled["hit"] / pooled["flagged"]) if pooled["flagged"] else "—"
    assert metrics["At-risk precision"] == expected
    assert any(f"{ui.number(pooled['scored'])} account-months scored" in item.value for item in app.caption)


def test_backtest_chart_has_dates_and_one_series_per_band():
    """Issue 19 item 6: scoring dates are dates (a temporal axis, formatted), not epoch milliseconds
    in a legend; each band is one series (colour), ordered from the lowest band to the highest."""
    frame = pd.DataFrame(
        {
            "scored_on": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-02-01", "2026-02-01"]),
            "health_band": ["at_risk", "healthy", "at_risk", "healthy"],
            "accounts": [10, 20, 12, 18],
            "churned_accounts": [3, 1, 4, 0],
            "churn_rate": [0.3, 0.05, 0.33, 0.0],
        }
    )
    spec = ui.backtest_chart(frame, ["at_risk", "healthy"]).to_dict()
    encoding = spec["encoding"]
    assert encoding["x"]["field"] == "scored_on" and encoding["x"]["type"] == "temporal"
    assert encoding["x"]["axis"]["format"] == "%Y-%m-%d"
    assert encoding["color"]["field"] == "health_band"
    assert encoding["color"]["scale"]["domain"] == ["at_risk", "healthy", "insufficient_data"]
    assert encoding["color"]["scale"]["range"][-1] == "#9e9e9e"  # no data is grey, not a health colour
    assert "xOffset" not in encoding
    tooltip = next(t for t in encoding["tooltip"] if t["field"] == "scored_on")
    assert tooltip["type"] == "temporal" and tooltip["format"] == "%Y-%m-%d"


def test_score_history_has_gaps_for_days_without_a_score():
    """Issue 19 item 6: a day without a score (null, or insufficient data) is a gap: no point on that
    day, and the days on either side are separate paths, so no line is drawn through it (and never 0)."""
    frame = pd.DataFrame(
        {
            "date_day": pd.to_datetime(
                ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05"]
            ),
            "health_band": ["neutral", "insufficient_data", "neutral", "neutral", "neutral"],
            "health_score": [50.0, 0.0, 55.0, None, 60.0],
            "usage_score": [40.0, 0.0, 45.0, 47.0, 48.0],
        }
    )
    long = ui.score_history_long(frame, ["health_score", "usage_score"])
    health = long[long["score"] == "health_score"]
    assert health["date_day"].dt.day.tolist() == [1, 3, 5]
    assert health["run"].nunique() == 3  # 06-01 | 06-03 | 06-05: three paths, no line between them
    usage = long[long["score"] == "usage_score"]
    assert usage["date_day"].dt.day.tolist() == [1, 3, 4, 5]
    assert usage.groupby("run")["date_day"].count().tolist() == [1, 3]
    assert 0.0 not in set(long["value"])
    spec = ui.score_history_chart(frame, ["health_score", "usage_score"], "Scores").to_dict()
    assert spec["encoding"]["detail"]["field"] == "run"


def test_account_detail_shows_the_churn_probability(warehouse):
    require(*PAGE_TABLES["account_detail"])
    row = query(
        "select account_id, churn_probability_90d from marts.dim_accounts "
        "where churn_probability_90d is not null order by account_id limit 1"
    )
    if row.empty:
        pytest.skip("no account with a churn probability in the app test warehouse")
    app = open_page("account_detail", account_id=row["account_id"].iloc[0])
    assert metrics(app)["Churn probability (90 d)"] == ui.percent(row["churn_probability_90d"].iloc[0])


def test_data_health_shows_runs_freshness_and_rejections(warehouse):
    require(*PAGE_TABLES["data_health"])
    app = open_page("data_health")
    frames = [frame.value for frame in app.dataframe]
    runs, freshness, rejected = frames[0], frames[1], frames[2] if len(frames) > 2 else None
    assert "published" in set(runs["outcome"])
    newest = query(
        "select run_id from quality.run_log where outcome = 'published' order by started_at desc limit 1"
    )
    assert any(f"Last published by run `{newest['run_id'].iloc[0]}`" in item.value for item in app.success)
    published = set(freshness.loc[freshness["published"], "mart"])
    assert published == set(data.ALL_MARTS) & tables()
    assert data.DIM_ACCOUNTS in published
    expected = query("select count(*) as n from quality.rejected_records")["n"].iloc[0]
    if expected == 0:
        assert any("No record was rejected" in item.value for item in app.info)
    else:
        assert int(rejected["records"].sum()) == expected


def test_data_health_shows_alerts_per_account_per_month(warehouse):
    require(*PAGE_TABLES["data_health"])
    mart = query("select * from marts.mart_alerts_monthly")
    app = open_page("data_health")
    if mart.empty:
        assert any("No alert has fired yet" in item.value for item in app.info)
        return
    table = frame_with(app, "alerted_account_share")
    assert len(table) == len(mart)
    latest = mart[mart["month_start"] == mart["month_start"].max()].sort_values("alert_type")
    line = next(item.value for item in app.markdown if item.value.startswith("Latest month"))
    assert f"{pd.Timestamp(latest['month_start'].iloc[0]):%Y-%m}" in line
    assert f"{ui.number(latest['scored_accounts'].iloc[0])} accounts scored" in line
    for row in latest.itertuples(index=False):
        assert (
            f"{row.alert_type} {ui.number(row.alerted_accounts)} ({ui.percent(row.alerted_account_share)})"
            in line
        )
    noisy = latest[latest["alerted_account_share"] > 0.5]
    warned = [item.value for item in app.warning if "more than half" in item.value]
    assert bool(warned) == (not noisy.empty)
    assert any(chart for chart in app.get("vega_lite_chart"))


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+")


def _everything_shown(app: AppTest) -> str:
    """Every text and every cell of every table on the page, as one string."""
    parts = [texts(app)]
    parts += [str(item.value) for item in (*app.info, *app.success, *app.warning, *app.error)]
    parts += [f"{metric.label} {metric.value}" for metric in app.metric]
    for frame in (item.value for item in app.dataframe):
        parts.append(" ".join(map(str, frame.columns)))
        parts.append(frame.astype(str).to_string())
    return "\n".join(parts)


def test_data_health_shows_no_raw_payload_and_no_email(warehouse):
    require("quality.rejected_records")
    # the demo's rejected records carry e-mails in their payloads (identify traits, NPS respondents)
    with_email = query(
        "select count(*) as n from quality.rejected_records where regexp_matches(raw_payload, '@')"
    )["n"].iloc[0]
    app = open_page("data_health")
    assert not [frame for frame in app.dataframe if "raw_payload" in frame.value.columns]
    shown = _everything_shown(app)
    assert not EMAIL.search(shown), EMAIL.search(shown)
    if with_email:
        payloads = query("select raw_payload from quality.rejected_records")["raw_payload"]
        assert not [payload for payload in payloads if payload in shown]
    assert any("quality.rejected_records" in item.value for item in app.caption)


# One finding of each kind, as quality.data_findings holds them (the demo company has none).
FINDINGS = [
    (
        "overlapping_subscriptions",
        "acc_00001",
        "sub_1 + sub_2",
        "subscriptions sub_1 and sub_2 run at the same time from 2026-11-01 to 2026-11-20 (still running): "
        "20 day(s) on which ARR and seats count both",
        20,
        None,
    ),
    (
        "usage_outside_subscription",
        "acc_00002",
        "acc_00002",
        "4 day(s) with product use (track events) and no subscription running, from 2026-10-01 to 2026-10-04",
        4,
        None,
    ),
    (
        "stripe_customer_without_account",
        None,
        "cus_Z9",
        "Stripe customer cus_Z9 is named by no CRM account, so no mart counts it: ARR 2400.00 (MRR 200.00) "
        "from 1 active subscription(s); 200.00 invoiced in 1 non-void invoice(s)",
        None,
        2400,
    ),
    (
        "stripe_customer_without_account",
        None,
        "cus_Z8",
        "Stripe customer cus_Z8 is named by no CRM account, so no mart counts it: ARR 0.00 (MRR 0.00) "
        "from 0 active subscription(s); 50.00 invoiced in 1 non-void invoice(s)",
        None,
        0,
    ),
    (
        "key_feature_not_seen",
        None,
        "alerts",
        "key feature alerts (seeds/key_features.csv): no staged event is named alert.configured, "
        "so no account is ever counted as using it",
        None,
        None,
    ),
]


@pytest.fixture
def warehouse_with_findings(monkeypatch, tmp_path):
    require("quality.data_findings")
    path = copy_warehouse(tmp_path / "published" / "health.duckdb")
    connection = duckdb.connect(str(path))
    try:
        connection.execute("delete from quality.data_findings")
        connection.executemany(
            "insert into quality.data_findings "
            "(finding_id, finding_type, account_id, subject, detail, observed_on, affected_days, arr) "
            "values (?, ?, ?, ?, ?, date '2026-11-20', ?, ?)",
            [(f"f{number}", *finding) for number, finding in enumerate(FINDINGS)],
        )
    finally:
        connection.close()
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(path))
    data.clear_cache()
    return path


def test_data_health_says_when_there_is_no_finding(warehouse):
    require("quality.data_findings")
    if query("select count(*) as n from quality.data_findings")["n"].iloc[0]:
        pytest.skip("the demo company has data findings")
    app = open_page("data_health")
    assert any("No data finding" in item.value for item in app.info)


def test_data_health_lists_the_findings_by_kind_and_filters_them(warehouse_with_findings):
    app = open_page("data_health")
    shown = metrics(app)
    assert shown["Stripe customer without account"] == "2"
    assert shown["Overlapping subscriptions"] == "1"
    assert shown["Key feature not seen"] == "1"
    frames = [frame.value for frame in app.dataframe]
    by_type = next(frame for frame in frames if "findings" in frame.columns)
    assert dict(zip(by_type["finding_type"], by_type["findings"], strict=True)) == {
        "stripe_customer_without_account": 2,
        "overlapping_subscriptions": 1,
        "usage_outside_subscription": 1,
        "key_feature_not_seen": 1,
    }
    assert (
        float(by_type.loc[by_type["finding_type"] == "stripe_customer_without_account", "arr"].iloc[0])
        == 2400
    )
    listed = frame_with(app, "subject")
    assert sorted(listed["subject"]) == sorted(finding[2] for finding in FINDINGS)
    assert set(listed["detail"]) == {finding[3] for finding in FINDINGS}
    kind = next(box for box in app.selectbox if box.label == "Show findings of")
    kind.select("stripe_customer_without_account").run()
    listed = frame_with(app, "subject")
    assert list(listed["subject"]) == ["cus_Z8", "cus_Z9"]
    assert not EMAIL.search(_everything_shown(app))


def test_the_exposures_name_every_mart_a_page_reads():
    import yaml

    exposures = yaml.safe_load((REPO_ROOT / "models" / "marts" / "_exposures.yml").read_text())["exposures"]
    declared = {
        exposure["name"].removeprefix("app_"): {
            ref.removeprefix("ref('").removesuffix("')") for ref in exposure["depends_on"]
        }
        for exposure in exposures
    }
    for page, page_tables in PAGE_TABLES.items():
        # quality.run_log is written by the CLI, not by a dbt model: it has no ref to declare.
        schema_tables = {name.split(".", 1)[1] for name in page_tables if name != "quality.run_log"}
        assert schema_tables <= declared[page], (page, schema_tables - declared[page])


def test_a_running_app_shows_a_new_publish_on_the_next_rerun(monkeypatch, tmp_path):
    import os
    import shutil

    import duckdb
    from test_app_support import copy_warehouse

    published = copy_warehouse(tmp_path / "health.duckdb")
    monkeypatch.setenv(data.WAREHOUSE_ENV, str(published))
    data.clear_cache()
    app = open_page("portfolio")
    before = query("select count(*) as n from marts.dim_accounts", warehouse=published)["n"].iloc[0]
    assert metrics(app)["Accounts"] == ui.number(before)
    candidate = tmp_path / "health.candidate.duckdb"
    shutil.copy2(published, candidate)
    connection = duckdb.connect(str(candidate))
    connection.execute(
        "delete from marts.dim_accounts where account_id = (select min(account_id) from marts.dim_accounts)"
    )
    connection.close()
    os.replace(candidate, published)  # the CLI's publish, while the app keeps its view of the old file
    app.run()
    assert not app.exception
    assert metrics(app)["Accounts"] == ui.number(before - 1)
