"""The fit, the comparison, the seed writing and the activation ranking of `account-health calibrate`
(the command and its options: pipelines/calibrate/__init__.py, which says what is fitted and why)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.calibrate import CalibrationRefused, Options

HEALTH_WEIGHT = re.compile(r"^health_(?P<component>[a-z_]+)_weight$")
COEFFICIENT_COLUMNS = [
    "model_version",
    "horizon_days",
    "feature",
    "coefficient",
    "fill_value",
    "held_out_from",
]
CONFIG_COLUMNS = ["config_version", "segment", "parameter_name", "parameter_value", "description"]
# The bands as fct_account_health_daily assigns them (the lowest is at_risk, the highest healthy).
JUDGED_BANDS = ("at_risk", "neutral", "healthy")


@dataclass
class History:
    """The snapshots and what scored them."""

    snapshots: pd.DataFrame
    components: list[str]
    config_version: str
    as_of_date: date
    at_risk_threshold: float
    healthy_threshold: dict[str, float]
    # the scoring version's default ('*') health weights: the prior a fit moves away from
    current_weights: dict[str, float] = field(default_factory=dict)


@dataclass
class ChurnModel:
    """A logistic model on component scores, in the seed's terms: log-odds = intercept +
    sum(coefficient x coalesce(score, fill)) + sum(missing coefficient x [score is null])."""

    horizon_days: int
    intercept: float
    coefficients: dict[str, float]
    missing_coefficients: dict[str, float]
    fills: dict[str, float]
    held_out_from: date
    pipeline: Any = field(default=None, repr=False)

    def log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.full(len(frame), self.intercept, dtype=float)
        for component, coefficient in self.coefficients.items():
            score = frame[f"{component}_score"].astype(float)
            total += coefficient * score.fillna(self.fills[component]).to_numpy()
            total += self.missing_coefficients[component] * score.isna().to_numpy(dtype=float)
        return total

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The churn probability the SQL model computes (same formula, same clamp of the log-odds)."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(frame), -30, 30)))

    def seed_rows(self, model_version: str) -> list[dict[str, str]]:
        def row(feature: str, coefficient: float, fill: float | None = None) -> dict[str, str]:
            return {
                "model_version": model_version,
                "horizon_days": str(self.horizon_days),
                "feature": feature,
                "coefficient": repr(float(coefficient)),
                "fill_value": "" if fill is None else repr(float(fill)),
                "held_out_from": self.held_out_from.isoformat(),
            }

        rows = [row("intercept", self.intercept)]
        for component, coefficient in self.coefficients.items():
            rows.append(row(f"{component}_score", coefficient, self.fills[component]))
            rows.append(row(f"{component}_score_missing", self.missing_coefficients[component]))
        return rows


# ------------------------------------------------------------------------------------------- read
def _project_vars(project_dir: Path) -> dict:
    import yaml

    with (project_dir / "dbt_project.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle).get("vars", {}) or {}


def read_config(seeds_dir: Path) -> list[dict[str, str]]:
    with (seeds_dir / "scoring_config.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _health_components(config: list[dict[str, str]], version: str) -> list[str]:
    """The health composite's components of a config version, from its `health_<c>_weight` rows."""
    found = []
    for row in config:
        match = HEALTH_WEIGHT.match(row["parameter_name"])
        if row["config_version"] == version and row["segment"] == "*" and match:
            found.append(match.group("component"))
    return found


def _current_weights(config: list[dict[str, str]], version: str, components: list[str]) -> dict[str, float]:
    weights = {}
    for row in config:
        match = HEALTH_WEIGHT.match(row["parameter_name"])
        if row["config_version"] == version and row["segment"] == "*" and match:
            weights[match.group("component")] = float(row["parameter_value"])
    return {c: weights[c] for c in components if c in weights}


def credibility(churned_accounts: int, prior_strength: float) -> float:
    """Z = n / (n + k): how far the weights move from the current ones towards the history's fit.

    A credibility weight (Buhlmann): with n churned accounts to learn from and k the prior's strength
    in churned accounts, the history's weights count as much as the current ones at n = k."""
    if prior_strength <= 0:
        return 1.0
    return churned_accounts / (churned_accounts + prior_strength)


def blend_weights(
    current: dict[str, float], fitted: dict[str, float], z: float, digits: int = 3
) -> dict[str, float]:
    """(1 - z) x current + z x fitted per component, normalised to 1 (rounded; the rest on the largest)."""
    if not current:
        return fitted
    mixed = {c: (1 - z) * current.get(c, 0.0) + z * fitted[c] for c in fitted}
    total = sum(mixed.values())
    weights = {c: round(value / total, digits) for c, value in mixed.items()}
    largest = max(weights, key=weights.get)
    weights[largest] = round(weights[largest] + 1 - sum(weights.values()), digits)
    return weights


def _healthy_thresholds(config: list[dict[str, str]], version: str) -> dict[str, float]:
    rows = [
        r for r in config if r["config_version"] == version and r["parameter_name"] == "healthy_threshold"
    ]
    return {r["segment"]: float(r["parameter_value"]) for r in rows}


SNAPSHOT_SQL = """
with
health as (
    select account_id, date_day, segment, config_version, health_score, health_band, {components}
    from marts.fct_account_health_daily
),
movements as (
    select account_id, month_start, mrr, movement_type from marts.fct_mrr_movements
),
as_of as (select max(date_day) as as_of_date from health),
scored as (
    select health.*
    from health
    inner join movements
        on health.account_id = movements.account_id and health.date_day = movements.month_start
    where movements.mrr > 0
),
churns as (
    select account_id, month_start as churned_on from movements where movement_type = 'churn'
)
select
    scored.account_id,
    scored.date_day as scored_on,
    any_value(scored.segment) as segment,
    any_value(scored.config_version) as config_version,
    any_value(scored.health_score) as health_score,
    any_value(scored.health_band) as health_band,
    {any_components},
    max(case when churns.account_id is not null then 1 else 0 end) as has_churned
from scored
cross join as_of
left join churns
    on scored.account_id = churns.account_id
    and scored.date_day < churns.churned_on
    and scored.date_day + cast($horizon as integer) >= churns.churned_on
where scored.date_day + cast($horizon as integer) <= as_of.as_of_date
group by scored.account_id, scored.date_day
order by scored_on, account_id
"""


def read_history(warehouse: Path, project_dir: Path, horizon_days: int) -> History:
    """Monthly snapshots of every scored account, labelled as the backtest labels them."""
    if not warehouse.exists():
        raise CalibrationRefused(f"no published warehouse at {warehouse}: run `account-health run` first")
    config = read_config(project_dir / "seeds")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'fct_account_health_daily'"
            ).fetchall()
        }
        if not columns:
            raise CalibrationRefused(f"{warehouse} has no marts.fct_account_health_daily")
        versions = [
            r[0]
            for r in con.execute(
                "select distinct config_version from marts.fct_account_health_daily "
                "where config_version is not null"
            ).fetchall()
        ]
        as_of = con.execute("select max(date_day) from marts.fct_account_health_daily").fetchone()[0]
        if len(versions) != 1:
            raise CalibrationRefused(f"the health history holds config versions {versions}; expected one")
        version = versions[0]
        components = [c for c in _health_components(config, version) if f"{c}_score" in columns]
        if not components:
            raise CalibrationRefused(
                f"config version {version} has no health weights in seeds/scoring_config.csv"
            )
        sql = SNAPSHOT_SQL.format(
            components=", ".join(f"{c}_score" for c in components),
            any_components=", ".join(f"any_value(scored.{c}_score) as {c}_score" for c in components),
        )
        snapshots = con.execute(sql, {"horizon": int(horizon_days)}).df()
    snapshots["scored_on"] = pd.to_datetime(snapshots["scored_on"]).dt.date
    return History(
        snapshots=snapshots,
        components=components,
        config_version=version,
        as_of_date=as_of,
        at_risk_threshold=float(_project_vars(project_dir).get("at_risk_threshold", 40)),
        healthy_threshold=_healthy_thresholds(config, version),
        current_weights=_current_weights(config, version, components),
    )


# -------------------------------------------------------------------------------------------- fit
@dataclass
class Split:
    train: pd.DataFrame
    held_out: pd.DataFrame
    training_months: list[date]
    held_out_months: list[date]


def split_by_time(history: History, options: Options) -> Split:
    """Held-out: the latest scoring dates; training: the older ones whose horizon ended by then."""
    judged = history.snapshots[history.snapshots["health_band"] != "insufficient_data"]
    months = sorted(judged["scored_on"].unique())
    if len(months) <= options.held_out_months:
        raise CalibrationRefused(
            f"{len(months)} scoring months with a {options.horizon_days}-day outcome: need more than the "
            f"{options.held_out_months} held out"
        )
    held_out_months = months[-options.held_out_months :]
    first_held_out = held_out_months[0]
    horizon = timedelta(days=options.horizon_days)
    training_months = [m for m in months if m + horizon <= first_held_out]
    train = judged[judged["scored_on"].isin(training_months)]
    held_out = judged[judged["scored_on"].isin(held_out_months)]
    train_churned = train.loc[train["has_churned"] == 1, "account_id"].nunique()
    held_churned = held_out.loc[held_out["has_churned"] == 1, "account_id"].nunique()
    if not training_months or train_churned < options.min_churned_accounts:
        raise CalibrationRefused(
            f"too few churned accounts to fit: {train_churned} churned within {options.horizon_days} days "
            f"in the {len(training_months)} training months (scored "
            f"{', '.join(str(m) for m in training_months) or 'none'}); the minimum is "
            f"{options.min_churned_accounts} (--min-churned). {held_churned} churned in the held-out months."
        )
    if held_churned < options.min_held_out_churned_accounts:
        raise CalibrationRefused(
            f"too few churned accounts to judge a fit: {held_churned} churned within {options.horizon_days} "
            f"days in the {len(held_out_months)} held-out months; the minimum is "
            f"{options.min_held_out_churned_accounts} (--min-held-out-churned)"
        )
    return Split(train, held_out, training_months, list(held_out_months))


def _design(frame: pd.DataFrame, components: list[str], fills: dict[str, float]) -> np.ndarray:
    columns = []
    for component in components:
        score = frame[f"{component}_score"].astype(float)
        columns.append(score.fillna(fills[component]).to_numpy())
    for component in components:
        columns.append(frame[f"{component}_score"].isna().to_numpy(dtype=float))
    return np.column_stack(columns)


def fit_model(
    train: pd.DataFrame, components: list[str], options: Options, held_out_from: date
) -> ChurnModel:
    """Standardised, L2-regularised logistic regression; coefficients folded back to score points."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # neutral fill: the training mean of the scores that exist (50 when a component never has data)
    fills = {}
    for component in components:
        present = train[f"{component}_score"].dropna().astype(float)
        fills[component] = float(present.mean()) if len(present) else 50.0
    x = _design(train, components, fills)
    y = train["has_churned"].to_numpy(dtype=int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=options.regularisation, max_iter=5000))
    pipeline.fit(x, y)
    scaler, regression = pipeline[0], pipeline[1]
    raw = regression.coef_[0] / scaler.scale_
    intercept = float(regression.intercept_[0] - np.sum(regression.coef_[0] * scaler.mean_ / scaler.scale_))
    n = len(components)
    return ChurnModel(
        horizon_days=options.horizon_days,
        intercept=intercept,
        coefficients={c: float(raw[i]) for i, c in enumerate(components)},
        missing_coefficients={c: float(raw[n + i]) for i, c in enumerate(components)},
        fills=fills,
        held_out_from=held_out_from,
        pipeline=pipeline,
    )


def weights_from(model: ChurnModel, digits: int = 3) -> dict[str, float]:
    """`max(0, -coefficient)` per component, normalised to sum to 1 (rounded; the rest on the largest)."""
    raw = {c: max(0.0, -coefficient) for c, coefficient in model.coefficients.items()}
    total = sum(raw.values())
    if total <= 0:
        raise CalibrationRefused(
            "no component lowers the churn risk as it rises on this history: there is nothing to weight"
        )
    weights = {c: round(value / total, digits) for c, value in raw.items()}
    largest = max(weights, key=weights.get)
    weights[largest] = round(weights[largest] + 1 - sum(weights.values()), digits)
    return weights


def health_under(frame: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """The health composite under other weights, as int_health_components_scored computes it: sum(w x s)
    over the components with data, divided by their summed weights; null when none has data."""
    weighted = pd.Series(0.0, index=frame.index)
    with_data = pd.Series(0.0, index=frame.index)
    for component, weight in weights.items():
        score = frame[f"{component}_score"].astype(float)
        weighted += (weight * score).fillna(0.0)
        with_data += np.where(score.notna(), weight, 0.0)
    return (weighted / with_data.replace(0.0, np.nan)).round(1)


def bands_of(frame: pd.DataFrame, health: pd.Series, history: History) -> pd.Series:
    """at_risk / neutral / healthy as fct_account_health_daily bands a judged day."""
    default = history.healthy_threshold.get("*", 70.0)
    healthy = frame["segment"].map(lambda s: history.healthy_threshold.get(s, default)).astype(float)
    return pd.Series(
        np.where(
            health < history.at_risk_threshold, "at_risk", np.where(health >= healthy, "healthy", "neutral")
        ),
        index=frame.index,
    )


# ---------------------------------------------------------------------------------------- compare
def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def evaluate(frame: pd.DataFrame, health: pd.Series, bands: pd.Series) -> dict[str, Any]:
    """AUC of the score (lower health = likelier churn), the at-risk flag's precision and recall, and
    the churn rate of each band, on the given account-months."""
    from sklearn.metrics import roc_auc_score

    churned = frame["has_churned"].to_numpy(dtype=int)
    scored = health.notna().to_numpy()
    auc = None
    if scored.any() and len(set(churned[scored])) == 2:
        auc = float(roc_auc_score(churned[scored], -health[scored].to_numpy(dtype=float)))
    flagged = (bands == "at_risk").to_numpy()
    result: dict[str, Any] = {
        "account_months": int(len(frame)),
        "churned_account_months": int(churned.sum()),
        "auc": auc,
        "flagged_account_months": int(flagged.sum()),
        "precision": _rate(int((flagged & (churned == 1)).sum()), int(flagged.sum())),
        "recall": _rate(int((flagged & (churned == 1)).sum()), int(churned.sum())),
    }
    for band in JUDGED_BANDS:
        in_band = (bands == band).to_numpy()
        result[f"{band}_account_months"] = int(in_band.sum())
        result[f"{band}_churn_rate"] = _rate(int(churned[in_band].sum()), int(in_band.sum()))
    result["lowest_band_churn_rate"] = result["at_risk_churn_rate"]
    result["highest_band_churn_rate"] = result["healthy_churn_rate"]
    return result


def calibrate(history: History, options: Options) -> tuple[dict[str, Any], ChurnModel, dict[str, float]]:
    """Fit on the training months; compare current and fitted on the held-out months."""
    split = split_by_time(history, options)
    model = fit_model(split.train, history.components, options, split.held_out_months[0])
    history_weights = weights_from(model)
    # A few dozen churned accounts cannot outweigh the configured weights: shrink towards them.
    churned_training = int(split.train.loc[split.train["has_churned"] == 1, "account_id"].nunique())
    z = credibility(churned_training, options.prior_strength)
    weights = blend_weights(history.current_weights, history_weights, z)
    held = split.held_out
    current = evaluate(held, held["health_score"].astype(float), held["health_band"])
    current_weights = {c: None for c in history.components}
    fitted_health = health_under(held, weights)
    fitted = evaluate(held, fitted_health, bands_of(held, fitted_health, history))
    from sklearn.metrics import roc_auc_score

    probability = model.predict(held)
    churned = held["has_churned"].to_numpy(dtype=int)
    fitted["model_auc"] = float(roc_auc_score(churned, probability)) if len(set(churned)) == 2 else None
    fitted["mean_predicted_probability"] = float(probability.mean())
    fitted["weights"] = weights
    fitted["history_weights"] = history_weights
    fitted["credibility"] = z
    current["weights"] = current_weights
    report = {
        "horizon_days": options.horizon_days,
        "held_out_months": [m.isoformat() for m in split.held_out_months],
        "training_months": [m.isoformat() for m in split.training_months],
        "as_of_date": str(history.as_of_date),
        "components": history.components,
        "churned_accounts": {
            "training": int(split.train.loc[split.train["has_churned"] == 1, "account_id"].nunique()),
            "held_out": int(held.loc[held["has_churned"] == 1, "account_id"].nunique()),
        },
        "training_account_months": int(len(split.train)),
        "current": {"config_version": history.config_version, **current},
        "fitted": {"config_version": None, **fitted},
        "model": {
            "intercept": model.intercept,
            "coefficients": model.coefficients,
            "missing_coefficients": model.missing_coefficients,
            "fill_values": model.fills,
            "regularisation": options.regularisation,
            "prior_strength": options.prior_strength,
        },
    }
    return report, model, weights


# ------------------------------------------------------------------------------------------ write
def next_version(config: list[dict[str, str]]) -> str:
    numbers = [int(m.group(1)) for r in config if (m := re.fullmatch(r"v(\d+)", r["config_version"]))]
    return f"v{max(numbers, default=0) + 1}"


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_coefficients(seeds_dir: Path) -> list[dict[str, str]]:
    path = seeds_dir / "churn_model_coefficients.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_version(
    seeds_dir: Path,
    report: dict[str, Any],
    model: ChurnModel,
    weights: dict[str, float],
    version: str,
    replace: bool,
) -> None:
    """Append the fitted weights as config `version` (a copy of the current version with the health
    weights replaced; its segment overrides of health weights dropped: the fit is one set for all)
    and the model's coefficients under the same name. Refuses an existing name unless `replace`."""
    config = read_config(seeds_dir)
    coefficients = read_coefficients(seeds_dir)
    exists = any(r["config_version"] == version for r in config) or any(
        r["model_version"] == version for r in coefficients
    )
    if exists and not replace:
        raise CalibrationRefused(f"config version {version} exists already; pass --replace to overwrite it")
    current = report["current"]["config_version"]
    config = [r for r in config if r["config_version"] != version]
    source = [r for r in config if r["config_version"] == current]
    note = (
        f"Fitted by account-health calibrate as of {report['as_of_date']} "
        f"({report['horizon_days']}-day churn; "
        f"held-out AUC {report['fitted']['auc']:.3f} vs {current} {report['current']['auc']:.3f})"
    )
    added = []
    for row in source:
        match = HEALTH_WEIGHT.match(row["parameter_name"])
        if match and match.group("component") in weights:
            if row["segment"] != "*":
                continue
            value = weights[match.group("component")]
            added.append(
                {**row, "config_version": version, "parameter_value": f"{value:.3f}", "description": note}
            )
        else:
            added.append({**row, "config_version": version})
    _write_csv(seeds_dir / "scoring_config.csv", CONFIG_COLUMNS, config + added)
    kept = [r for r in coefficients if r["model_version"] != version]
    _write_csv(
        seeds_dir / "churn_model_coefficients.csv", COEFFICIENT_COLUMNS, kept + model.seed_rows(version)
    )


# ------------------------------------------------------------------------------------ activation
ACTIVATION_SQL = """
with
source_window as (
    select min(event_date) as first_event_date, max(event_date) as last_event_date
    from intermediate.int_events_resolved_to_accounts
),
accounts as (
    select accounts.account_id, cast(accounts.created_at as date) as created_date
    from staging.stg_crm__accounts as accounts
    cross join source_window
    -- only signups the product source saw from day 0, and old enough for the longest window
    where cast(accounts.created_at as date) >= source_window.first_event_date
        and cast(accounts.created_at as date) + cast($window_max as integer) <= source_window.last_event_date
),
outcomes as (
    select
        accounts.account_id,
        max(case when movements.movement_type = 'churn' then 1 else 0 end) as has_churned,
        max(case when movements.account_id is not null then 1 else 0 end) as has_billing_history
    from accounts
    left join marts.fct_mrr_movements as movements on accounts.account_id = movements.account_id
    group by accounts.account_id
),
candidates as (
    select
        account_id,
        event_date,
        case
            when milestone_name is not null then event_name || ':' || milestone_name
            else event_name
        end as candidate
    from intermediate.int_events_resolved_to_accounts
    where message_type = 'track'
),
first_reached as (
    select candidates.account_id, candidates.candidate, min(candidates.event_date) as reached_on
    from candidates
    inner join accounts on candidates.account_id = accounts.account_id
    group by candidates.account_id, candidates.candidate
),
windows as (select unnest($windows) as window_days),
grid as (
    select
        names.candidate, windows.window_days, outcomes.account_id, outcomes.has_churned,
        accounts.created_date
    from (select distinct candidate from first_reached) as names
    cross join windows
    cross join outcomes
    inner join accounts on outcomes.account_id = accounts.account_id
    where outcomes.has_billing_history = 1
),
reached as (
    select
        grid.*,
        case
            when first_reached.reached_on <= grid.created_date + cast(grid.window_days as integer)
                then 1
            else 0
        end as has_reached
    from grid
    left join first_reached
        on grid.account_id = first_reached.account_id and grid.candidate = first_reached.candidate
)
select
    candidate,
    window_days,
    cast(sum(has_reached) as bigint) as reached_accounts,
    cast(sum(has_reached * (1 - has_churned)) as bigint) as reached_retained,
    cast(sum(1 - has_reached) as bigint) as not_reached_accounts,
    cast(sum((1 - has_reached) * (1 - has_churned)) as bigint) as not_reached_retained
from reached
group by candidate, window_days
"""


def rank_activation_events(
    warehouse: Path, windows: tuple[int, ...] = (7, 14), min_accounts: int = 5
) -> pd.DataFrame:
    """Candidate milestones (every track event name, onboarding milestones by name) ranked by how far
    reaching them within N days of signup separates the retained cohort from the churned one.

    Population: accounts created while the product source was already recording (otherwise "not
    reached" may only mean "not recorded") and at least the longest window before its last day, with
    billing history. Churned: any `churn` movement in fct_mrr_movements up to the as-of date.
    Separation: retention rate of the accounts that reached it minus that of those that did not,
    with the counts; ranked on the smaller of the two groups' evidence (both need `min_accounts`)."""
    if not warehouse.exists():
        raise CalibrationRefused(f"no published warehouse at {warehouse}: run `account-health run` first")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute(ACTIVATION_SQL, {"windows": list(windows), "window_max": max(windows)}).df()
    if frame.empty:
        return frame
    frame["reached_retention_rate"] = frame["reached_retained"] / frame["reached_accounts"].where(
        frame["reached_accounts"] > 0
    )
    frame["not_reached_retention_rate"] = frame["not_reached_retained"] / frame["not_reached_accounts"].where(
        frame["not_reached_accounts"] > 0
    )
    frame["retention_lift"] = frame["reached_retention_rate"] - frame["not_reached_retention_rate"]
    enough = (frame["reached_accounts"] >= min_accounts) & (frame["not_reached_accounts"] >= min_accounts)
    frame = frame[enough].copy()
    best = frame.groupby("candidate")["retention_lift"].max().rename("best_lift")
    frame = frame.join(best, on="candidate").sort_values(
        ["best_lift", "candidate", "window_days"], ascending=[False, True, True]
    )
    return frame.drop(columns=["best_lift"]).reset_index(drop=True)
