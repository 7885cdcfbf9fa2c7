"""`account-health calibrate` (pipelines/calibrate): labels, time split, fit, weights, refusal, --write,
the activation ranking, and the churn probability of the dbt models against scikit-learn's.

The warehouses here are real DuckDB files holding the two marts calibrate reads
(`fct_account_health_daily`, `fct_mrr_movements`), written by hand with a known story: churn
follows the recency component only, so a fit must move the weight onto recency. No dbt build runs
except one `dbt compile` of the two churn-probability models, whose SQL then runs on hand-made rows.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dbt_support import REPO_ROOT, dbt_command

from pipelines import cli
from pipelines.calibrate import CalibrationRefused, Options, core

COMPONENTS = ["recency", "adoption", "depth", "breadth", "cs_engagement"]
V1 = {"recency": 0.20, "adoption": 0.25, "depth": 0.15, "breadth": 0.20, "cs_engagement": 0.20}


def _month(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1)


def _health(row: dict) -> float | None:
    present = {c: w for c, w in V1.items() if row.get(f"{c}_score") is not None}
    if not present:
        return None
    return round(sum(w * row[f"{c}_score"] for c, w in present.items()) / sum(present.values()), 1)


def _band(health: float | None, insufficient: bool) -> str:
    if insufficient:
        return "insufficient_data"
    if health is not None and health < 40:
        return "at_risk"
    if health is not None and health >= 70:
        return "healthy"
    return "neutral"


def write_warehouse(path: Path, health_rows: list[dict], movement_rows: list[dict], as_of: date) -> Path:
    """A published-warehouse stand-in: marts.fct_account_health_daily and marts.fct_mrr_movements."""
    health = pd.DataFrame(health_rows)
    for component in COMPONENTS:
        if f"{component}_score" not in health:
            health[f"{component}_score"] = None
    health["health_score"] = [_health(r) for r in health.to_dict("records")]
    insufficient = health.get("insufficient", pd.Series(False, index=health.index)).fillna(False)
    health["health_band"] = [_band(h, i) for h, i in zip(health["health_score"], insufficient, strict=True)]
    health = health.drop(columns=["insufficient"], errors="ignore")
    health["segment"] = health.get("segment", "smb")
    health["config_version"] = "v1"
    # the as-of day: the latest health day of the history
    last = pd.DataFrame(
        [{"account_id": "zz_as_of", "date_day": as_of, "segment": "smb", "config_version": "v1"}]
    )
    health = pd.concat([health, last], ignore_index=True)
    movements = pd.DataFrame(movement_rows)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.register("health_frame", health)
        con.register("movement_frame", movements)
        scores = ", ".join(f"cast({c}_score as double) as {c}_score" for c in COMPONENTS)
        con.execute(
            f"""create table marts.fct_account_health_daily as
            select account_id, cast(date_day as date) as date_day, segment, config_version,
                cast(health_score as double) as health_score, health_band, {scores}
            from health_frame"""
        )
        con.execute(
            """create table marts.fct_mrr_movements as
            select account_id, cast(month_start as date) as month_start, cast(mrr as double) as mrr,
                movement_type from movement_frame"""
        )
    return path


def story(seed: int = 3, accounts: int = 400, months: int = 14) -> tuple[list[dict], list[dict], date]:
    """Accounts scored monthly; each month an account churns with a probability that falls with its
    recency score only (the other components are noise). Churned accounts stop."""
    rng = np.random.default_rng(seed)
    start = date(2025, 1, 1)
    health, movements = [], []
    for index in range(accounts):
        account = f"acc_{index:04d}"
        alive = True
        for m in range(months):
            day = _month(start, m)
            if not alive:
                break
            recency = float(rng.uniform(0, 100))
            row = {"account_id": account, "date_day": day, "recency_score": round(recency, 1)}
            for component in COMPONENTS[1:]:
                row[f"{component}_score"] = round(float(rng.uniform(0, 100)), 1)
            if rng.uniform() < 0.2:
                row["cs_engagement_score"] = None  # never touched: no data
            health.append(row)
            movements.append(
                {"account_id": account, "month_start": day, "mrr": 100.0, "movement_type": "flat"}
            )
            churn_probability = 1 / (1 + np.exp(-(-1.0 - 0.06 * (recency - 50))))
            if rng.uniform() < churn_probability * 0.25:
                movements.append(
                    {
                        "account_id": account,
                        "month_start": _month(start, m + 1),
                        "mrr": 0.0,
                        "movement_type": "churn",
                    }
                )
                alive = False
    return health, movements, _month(start, months) + timedelta(days=5)


@pytest.fixture(scope="module")
def story_warehouse(tmp_path_factory) -> Path:
    health, movements, as_of = story()
    return write_warehouse(tmp_path_factory.mktemp("calibrate") / "wh.duckdb", health, movements, as_of)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's seeds and dbt_project.yml: --write must only touch this copy."""
    (tmp_path / "project" / "seeds").mkdir(parents=True)
    for name in ("scoring_config.csv", "churn_model_coefficients.csv"):
        shutil.copy(REPO_ROOT / "seeds" / name, tmp_path / "project" / "seeds" / name)
    shutil.copy(REPO_ROOT / "dbt_project.yml", tmp_path / "project" / "dbt_project.yml")
    return tmp_path / "project"


def run_cli(monkeypatch, project: Path, warehouse: Path, *args: str) -> int:
    monkeypatch.setenv("ACCOUNT_HEALTH_PROJECT_DIR", str(project))
    return cli.main(["calibrate", "--warehouse", str(warehouse), *args])


def test_labels_are_the_backtest_labels(tmp_path):
    """The edges int_score_backtest_outcomes' unit test pins: a churn after the scoring date and on or
    before scoring date + horizon counts; on the scoring date it does not; a window not elapsed by
    the as-of date is no snapshot; an account not paying is not scored."""
    full = dict.fromkeys((f"{c}_score" for c in COMPONENTS), 50.0)
    health = [
        {"account_id": "a", "date_day": date(2024, 1, 1), **full},  # churns 2024-03-31: day 90, in
        {"account_id": "b", "date_day": date(2024, 1, 1), **full},  # churns 2024-04-01: day 91, out
        {"account_id": "c", "date_day": date(2024, 1, 1), **full},  # churned that very day before
        {"account_id": "d", "date_day": date(2024, 1, 1), **full},  # not paying: not scored
        {"account_id": "a", "date_day": date(2024, 5, 1), **full},  # window ends after the as-of date
    ]
    movements = [
        {"account_id": "a", "month_start": date(2024, 1, 1), "mrr": 10, "movement_type": "new"},
        {"account_id": "a", "month_start": date(2024, 3, 31), "mrr": 0, "movement_type": "churn"},
        {"account_id": "a", "month_start": date(2024, 5, 1), "mrr": 10, "movement_type": "reactivation"},
        {"account_id": "b", "month_start": date(2024, 1, 1), "mrr": 10, "movement_type": "new"},
        {"account_id": "b", "month_start": date(2024, 4, 1), "mrr": 0, "movement_type": "churn"},
        {"account_id": "c", "month_start": date(2024, 1, 1), "mrr": 10, "movement_type": "churn"},
        {"account_id": "d", "month_start": date(2024, 1, 1), "mrr": 0, "movement_type": "churn"},
    ]
    warehouse = write_warehouse(tmp_path / "wh.duckdb", health, movements, as_of=date(2024, 6, 1))
    history = core.read_history(warehouse, REPO_ROOT, 90)
    labels = {
        (r.account_id, r.scored_on): r.has_churned
        for r in history.snapshots.itertuples()
        if r.account_id != "zz_as_of"
    }
    assert labels == {("a", date(2024, 1, 1)): 1, ("b", date(2024, 1, 1)): 0, ("c", date(2024, 1, 1)): 0}
    assert history.components == COMPONENTS
    assert history.config_version == "v1"


def test_split_holds_out_the_latest_months_and_purges_overlapping_windows(story_warehouse):
    history = core.read_history(story_warehouse, REPO_ROOT, 90)
    split = core.split_by_time(history, Options(horizon_days=90, held_out_months=3))
    first_held_out = split.held_out_months[0]
    assert len(split.held_out_months) == 3
    assert split.held_out_months == sorted(split.held_out_months)[-3:]
    # every training label's window ended by the first held-out date
    assert all(m + timedelta(days=90) <= first_held_out for m in split.training_months)
    assert max(split.training_months) < first_held_out - timedelta(days=60)
    assert set(split.train["scored_on"]).isdisjoint(split.held_out["scored_on"])


def test_calibrate_moves_the_weight_to_the_component_that_predicts_churn(
    story_warehouse, project, monkeypatch, tmp_path, capsys
):
    out = tmp_path / "out.json"
    before = {p.name: p.read_bytes() for p in (project / "seeds").iterdir()}
    assert run_cli(monkeypatch, project, story_warehouse, "--horizon", "90", "--json", str(out)) == 0
    report = json.loads(out.read_text())
    assert set(report) >= {"horizon_days", "held_out_months", "current", "fitted"}
    assert report["horizon_days"] == 90 and len(report["held_out_months"]) == 3
    for side in ("current", "fitted"):
        assert set(report[side]) >= {"config_version", "auc", "precision", "recall"}
    assert report["current"]["config_version"] == "v1"
    weights = report["fitted"]["weights"]
    assert all(w >= 0 for w in weights.values())
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    # churn follows recency only: the history's own fit puts most of the weight there ...
    assert report["fitted"]["history_weights"]["recency"] > 0.6
    assert report["current"]["weights"] == V1
    # ... and the published weights move from v1 towards it by the credibility of its churned accounts
    churned = report["churned_accounts"]["training"]
    z = churned / (churned + 100)
    assert report["fitted"]["credibility"] == pytest.approx(z)
    for component, weight in weights.items():
        expected = (1 - z) * V1[component] + z * report["fitted"]["history_weights"][component]
        assert weight == pytest.approx(expected, abs=0.002)
    assert weights["recency"] > V1["recency"]
    assert report["fitted"]["auc"] >= report["current"]["auc"]
    # the current figures are the held-out months' own: recomputed here from the snapshots
    history = core.read_history(story_warehouse, REPO_ROOT, 90)
    held = history.snapshots[
        history.snapshots["scored_on"].astype(str).isin(report["held_out_months"])
        & (history.snapshots["health_band"] != "insufficient_data")
    ]
    flagged = held["health_band"] == "at_risk"
    churned = held["has_churned"] == 1
    assert report["current"]["precision"] == pytest.approx((flagged & churned).sum() / flagged.sum())
    assert report["current"]["recall"] == pytest.approx((flagged & churned).sum() / churned.sum())
    printed = capsys.readouterr().out
    assert "AUC of the health score" in printed and "nothing written" in printed
    # nothing changes without --write
    assert {p.name: p.read_bytes() for p in (project / "seeds").iterdir()} == before


def test_too_few_churned_accounts_is_refused_with_the_count(story_warehouse, project, monkeypatch, capsys):
    history = core.read_history(story_warehouse, REPO_ROOT, 90)
    split = core.split_by_time(history, Options())
    churned = split.train.loc[split.train["has_churned"] == 1, "account_id"].nunique()
    code = run_cli(monkeypatch, project, story_warehouse, "--min-churned", str(churned + 1), "--write")
    assert code == 2
    printed = capsys.readouterr().out
    assert f"too few churned accounts to fit: {churned} churned within 90 days" in printed
    assert f"the minimum is {churned + 1}" in printed
    assert core.read_config(project / "seeds") == core.read_config(REPO_ROOT / "seeds")


def test_a_history_without_churn_is_refused(tmp_path, project, monkeypatch, capsys):
    health, movements, as_of = story(accounts=30, months=8)
    movements = [m for m in movements if m["movement_type"] != "churn"]
    warehouse = write_warehouse(tmp_path / "calm.duckdb", health, movements, as_of)
    assert run_cli(monkeypatch, project, warehouse) == 2
    assert "too few churned accounts to fit: 0 churned" in capsys.readouterr().out


def test_write_appends_a_version_and_its_coefficients(story_warehouse, project, monkeypatch, tmp_path):
    before = core.read_config(project / "seeds")
    out = tmp_path / "out.json"
    assert run_cli(monkeypatch, project, story_warehouse, "--write", "--json", str(out)) == 0
    report = json.loads(out.read_text())
    version = core.next_version(before)
    assert report["fitted"]["config_version"] == version
    after = core.read_config(project / "seeds")
    assert after[: len(before)] == before  # appended, nothing else touched
    added = {(r["segment"], r["parameter_name"]): r["parameter_value"] for r in after[len(before) :]}
    current = {
        (r["segment"], r["parameter_name"]): r["parameter_value"]
        for r in before
        if r["config_version"] == "v1"
    }
    for component, weight in report["fitted"]["weights"].items():
        assert float(added[("*", f"health_{component}_weight")]) == pytest.approx(weight)
    # every other parameter is the current version's
    for key, value in current.items():
        if not key[1].startswith("health_") or not key[1].endswith("_weight"):
            assert added[key] == value
    coefficients = [r for r in core.read_coefficients(project / "seeds") if r["model_version"] == version]
    features = {r["feature"] for r in coefficients}
    assert features == {"intercept"} | {f"{c}_score" for c in COMPONENTS} | {
        f"{c}_score_missing" for c in COMPONENTS
    }
    assert {r["held_out_from"] for r in coefficients} == {report["held_out_months"][0]}
    # the same name again is refused unless --replace
    assert run_cli(monkeypatch, project, story_warehouse, "--write", "--config-version", version) == 2
    assert (
        run_cli(monkeypatch, project, story_warehouse, "--write", "--config-version", version, "--replace")
        == 0
    )
    assert len(core.read_config(project / "seeds")) == len(after)


def test_model_prediction_is_sklearns(story_warehouse):
    history = core.read_history(story_warehouse, REPO_ROOT, 90)
    split = core.split_by_time(history, Options())
    model = core.fit_model(split.train, history.components, Options(), split.held_out_months[0])
    features = core._design(split.held_out, history.components, model.fills)
    expected = model.pipeline.predict_proba(features)[:, 1]
    np.testing.assert_allclose(model.predict(split.held_out), expected, rtol=1e-9, atol=1e-12)


# -------------------------------------------------------------------- the SQL model against sklearn
HAND_ROWS = [
    {"account_id": "h1", "recency_score": 100.0, "adoption_score": 80.0, "depth_score": 55.5},
    {"account_id": "h2", "recency_score": 3.1, "adoption_score": 0.0, "depth_score": 0.0},
    {"account_id": "h3", "recency_score": None, "adoption_score": 42.0, "depth_score": 17.3},
    {"account_id": "h4", "recency_score": 50.0, "adoption_score": None, "cs_engagement_score": 12.5},
    {"account_id": "h5", "recency_score": 0.0, "adoption_score": 0.0, "breadth_score": 0.0},
    {
        "account_id": "h6",
        "recency_score": 70.0,
        "adoption_score": 60.0,
        "insufficient_data_reason": "source_stale",
    },
]


def test_sql_churn_probability_equals_sklearn_predict_proba(story_warehouse, tmp_path):
    """The coefficients a fit writes to the seed, read by int_churn_model_coefficients_pivoted and
    applied by int_churn_probability_scored (compiled by dbt, run on DuckDB), give scikit-learn's
    predict_proba on the same hand-made rows; an insufficient-data row gets none."""
    history = core.read_history(story_warehouse, REPO_ROOT, 90)
    split = core.split_by_time(history, Options())
    model = core.fit_model(split.train, history.components, Options(), split.held_out_months[0])
    database = tmp_path / "churn.duckdb"
    dbt_command(
        tmp_path,
        database,
        "compile",
        "--select",
        "int_churn_model_coefficients_pivoted",
        "int_churn_probability_scored",
        "--vars",
        '{"churn_model_horizon_days": 90, "churn_model_version": "m_test"}',
    )
    compiled = tmp_path / "target" / "compiled" / "account_health" / "models" / "intermediate" / "health"
    seed = pd.DataFrame(model.seed_rows("m_test"))
    rows = pd.DataFrame(HAND_ROWS)
    all_components = [
        "recency",
        "adoption",
        "depth",
        "breadth",
        "cs_engagement",
        "nps",
        "support",
        "sentiment",
    ]
    for component in all_components:
        if f"{component}_score" not in rows:
            rows[f"{component}_score"] = None
    if "insufficient_data_reason" not in rows:
        rows["insufficient_data_reason"] = None
    rows["date_day"] = date(2026, 6, 30)
    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists staging; create schema if not exists intermediate")
        con.register("seed_frame", seed)
        con.execute(
            """create table staging.churn_model_coefficients as select model_version,
            cast(horizon_days as integer) as horizon_days, feature,
            cast(coefficient as double) as coefficient,
            cast(nullif(fill_value, '') as double) as fill_value, cast(held_out_from as date) as held_out_from
            from seed_frame"""
        )
        con.register("rows_frame", rows)
        scores = ", ".join(f"cast({c}_score as decimal(5,1)) as {c}_score" for c in all_components)
        con.execute(
            f"""create table intermediate.int_health_components_scored as select account_id,
            cast(date_day as date) as date_day,
            cast(insufficient_data_reason as varchar) as insufficient_data_reason,
            {scores} from rows_frame"""
        )
        pivot_sql = (compiled / "int_churn_model_coefficients_pivoted.sql").read_text()
        con.execute(f"create view intermediate.int_churn_model_coefficients_pivoted as {pivot_sql}")
        sql = (compiled / "int_churn_probability_scored.sql").read_text()
        result = con.execute(f"select * from ({sql}) order by account_id").df().set_index("account_id")
    assert (result["churn_model_version"] == "m_test").all()
    scored = rows[rows["insufficient_data_reason"].isna()].set_index("account_id")
    features = core._design(scored, history.components, model.fills)
    expected = model.pipeline.predict_proba(features)[:, 1]
    np.testing.assert_allclose(result.loc[scored.index, "churn_probability"].to_numpy(), expected, rtol=1e-9)
    assert result.loc[scored.index, "churn_probability_status"].eq("scored").all()
    assert pd.isna(result.loc["h6", "churn_probability"])
    assert result.loc["h6", "churn_probability_status"] == "insufficient_data"


# ------------------------------------------------------------------------------------ activation
def test_activation_ranking_counts_and_lift(tmp_path):
    """Six accounts signed up while the source recorded; 'report.created' reached within 7 days by
    a1..a3 (all retained) and not by a4..a6 (a4, a5 churned): lift 1 - 1/3 at 7 and 14 days.
    a7 signed up before the source's first event: left out."""
    first = date(2026, 1, 1)
    accounts = [(f"a{i}", first + timedelta(days=i)) for i in range(1, 7)] + [("a7", date(2025, 12, 1))]
    events = [
        {
            "account_id": "zz",
            "event_date": first,
            "message_type": "track",
            "event_name": "x",
            "milestone_name": None,
        },
        {"account_id": "zz", "event_date": date(2026, 3, 1), "message_type": "track", "event_name": "x"},
    ]
    for account, created in accounts[:3]:
        events.append(
            {
                "account_id": account,
                "event_date": created + timedelta(days=2),
                "message_type": "track",
                "event_name": "report.created",
            }
        )
    events.append(
        {
            "account_id": "a4",
            "event_date": date(2026, 1, 30),
            "message_type": "track",
            "event_name": "report.created",
        }
    )
    events.append(
        {
            "account_id": "a7",
            "event_date": date(2026, 1, 2),
            "message_type": "track",
            "event_name": "report.created",
        }
    )
    movements = [
        {"account_id": a, "month_start": date(2026, 1, 1), "movement_type": "new"} for a, _ in accounts
    ]
    movements += [
        {"account_id": a, "month_start": date(2026, 3, 1), "movement_type": "churn"} for a in ("a4", "a5")
    ]
    warehouse = tmp_path / "act.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema intermediate; create schema staging; create schema marts")
        frame = pd.DataFrame(events)
        frame["milestone_name"] = frame.get("milestone_name")
        con.register("events_frame", frame)
        con.execute(
            """create table intermediate.int_events_resolved_to_accounts as select account_id,
            cast(event_date as date) as event_date, message_type, event_name,
            cast(milestone_name as varchar) as milestone_name from events_frame"""
        )
        con.register("accounts_frame", pd.DataFrame(accounts, columns=["account_id", "created_at"]))
        con.execute(
            "create table staging.stg_crm__accounts as select account_id, "
            "cast(created_at as timestamp) as created_at from accounts_frame"
        )
        con.register("movements_frame", pd.DataFrame(movements))
        con.execute(
            "create table marts.fct_mrr_movements as select account_id, "
            "cast(month_start as date) as month_start, movement_type from movements_frame"
        )
    ranking = core.rank_activation_events(warehouse, min_accounts=3)
    report = ranking[ranking["candidate"] == "report.created"].set_index("window_days")
    assert report.loc[7, "reached_accounts"] == 3 and report.loc[7, "not_reached_accounts"] == 3
    assert report.loc[7, "reached_retention_rate"] == pytest.approx(1.0)
    assert report.loc[7, "not_reached_retention_rate"] == pytest.approx(1 / 3)
    assert report.loc[7, "retention_lift"] == pytest.approx(2 / 3)
    assert ranking["candidate"].iloc[0] == "report.created"


def test_calibrate_without_a_warehouse_is_refused(project, monkeypatch, tmp_path, capsys):
    assert run_cli(monkeypatch, project, tmp_path / "none.duckdb") == 2
    assert "no published warehouse" in capsys.readouterr().out


def test_refusal_names_the_months(tmp_path):
    health, movements, as_of = story(accounts=20, months=4)
    warehouse = write_warehouse(tmp_path / "short.duckdb", health, movements, as_of)
    history = core.read_history(warehouse, REPO_ROOT, 90)
    with pytest.raises(CalibrationRefused, match="scoring months"):
        core.split_by_time(history, Options(held_out_months=3))


def test_credibility_blends_the_current_weights_with_the_history_fit():
    """Hand-computed: 25 churned accounts against a prior of 100 give Z = 0.2; weights 0.5/0.5
    blended with a fit of 1/0 give 0.6/0.4; no prior takes the fit as it is."""
    assert core.credibility(25, 100) == pytest.approx(0.2)
    assert core.credibility(25, 0) == 1.0
    blended = core.blend_weights({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 0.0}, 0.2)
    assert blended == {"a": 0.6, "b": 0.4}
    assert core.blend_weights({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 0.0}, 1.0) == {"a": 1.0, "b": 0.0}
