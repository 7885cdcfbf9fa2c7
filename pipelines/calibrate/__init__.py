"""`account-health calibrate`: learn the health score's weights and a churn model from the company's
own history, and judge them against the current config version before anyone adopts them.

    account-health calibrate [--horizon 90] [--held-out-months 3] [--json FILE] [--write]
    account-health calibrate --activation [--json FILE]

It reads the published warehouse read-only. Snapshots: every account paying on the first day of a
month (`fct_mrr_movements.mrr > 0`) with that day's component scores from `fct_account_health_daily`,
labelled "churned within the horizon" exactly as `int_score_backtest_outcomes` labels it (a `churn`
movement after the scoring date and on or before scoring date + horizon; only fully elapsed
horizons). Insufficient-data days have no score and are left out, as in the backtest marts.

Time split: the latest `held_out_months` scoring dates are held out; the model is fitted on the
older ones whose whole horizon ended by the first held-out date (an outcome the evaluation will
judge is never a training label). A regularised logistic regression (scikit-learn) fits "churned"
on the components. A missing component is filled with its training mean (neutral: it moves the
log-odds by nothing beyond its own indicator) and flagged by an indicator column, so "no data" has
its own coefficient instead of pretending to be a value. Features are standardised for the fit (the
penalty then treats them alike) and the coefficients are folded back to "log-odds per score point".

Weights: every component is on the same 0-100 scale, so `-coefficient` is how much one point of it
lowers the churn log-odds. The fitted weights are `max(0, -coefficient)` normalised to sum to 1: with
every component present the fitted health score is then a decreasing linear function of the model's
log-odds, so it ranks accounts as the model does. A component whose rise goes with more churn gets
weight 0 (the score stays "higher is healthier"). Details and the demo's figures: DECISIONS.md.

`--write` appends the fitted weights as a new config_version to seeds/scoring_config.csv (a copy
of the current version with the health weights replaced) and the model to
seeds/churn_model_coefficients.csv; nothing changes without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("account_health.calibrate")
summary_log = logging.getLogger("account_health.summary")

EXIT_OK = 0
EXIT_REFUSED = 2


class CalibrationRefused(Exception):
    """The history cannot support a fit (too few churned accounts, too few months): nothing changes."""


@dataclass(frozen=True)
class Options:
    """What `calibrate` fits on; every default is a command-line option."""

    horizon_days: int = 90
    held_out_months: int = 3
    # distinct churned accounts the training months must hold, and the held-out months
    min_churned_accounts: int = 10
    min_held_out_churned_accounts: int = 5
    # inverse regularisation strength of the logistic regression (scikit-learn's C; L2)
    regularisation: float = 1.0
    # churned accounts at which the history's weights count as much as the current ones: ten per
    # feature of the fit (five scores and their missing flags), the usual events-per-variable rule
    prior_strength: float = 100.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Options()
    parser.add_argument(
        "--horizon", type=int, default=defaults.horizon_days, help="churn horizon in days (90)"
    )
    parser.add_argument(
        "--held-out-months",
        type=int,
        default=defaults.held_out_months,
        help=f"latest scoring months held out for the comparison ({defaults.held_out_months})",
    )
    parser.add_argument(
        "--min-churned",
        type=int,
        default=defaults.min_churned_accounts,
        help="refuse below this many churned accounts in the training months "
        f"({defaults.min_churned_accounts})",
    )
    parser.add_argument(
        "--min-held-out-churned",
        type=int,
        default=defaults.min_held_out_churned_accounts,
        help=f"refuse below this many churned accounts in the held-out months "
        f"({defaults.min_held_out_churned_accounts})",
    )
    parser.add_argument(
        "--regularisation",
        type=float,
        default=defaults.regularisation,
        help="inverse L2 strength C of the logistic regression (1.0; smaller is stronger)",
    )
    parser.add_argument(
        "--prior-strength",
        type=float,
        default=defaults.prior_strength,
        help="churned accounts at which the fitted weights count as much as the current ones "
        f"({defaults.prior_strength:g}; 0 takes the fit as it is)",
    )
    parser.add_argument("--json", dest="json_file", help="also write the comparison as JSON to this file")
    parser.add_argument(
        "--write",
        action="store_true",
        help="append the fitted weights as a new config_version to seeds/scoring_config.csv and the "
        "model to seeds/churn_model_coefficients.csv",
    )
    parser.add_argument("--config-version", help="name of the version --write adds (default: the next vN)")
    parser.add_argument("--replace", action="store_true", help="let --write overwrite an existing version")
    parser.add_argument(
        "--activation",
        action="store_true",
        help="rank candidate activation events (reached within 7 and 14 days of signup) instead",
    )


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "auc":
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def comparison_table(report: dict[str, Any]) -> list[str]:
    current, fitted = report["current"], report["fitted"]
    rows = [
        ("config_version", "", current["config_version"], fitted["config_version"] or "(not written)"),
        ("AUC of the health score", "auc", current["auc"], fitted["auc"]),
        ("at-risk precision", "pct", current["precision"], fitted["precision"]),
        ("at-risk recall", "pct", current["recall"], fitted["recall"]),
        ("flagged account-months", "", current["flagged_account_months"], fitted["flagged_account_months"]),
        (
            "churn rate, at_risk (lowest band)",
            "pct",
            current["at_risk_churn_rate"],
            fitted["at_risk_churn_rate"],
        ),
        ("churn rate, neutral", "pct", current["neutral_churn_rate"], fitted["neutral_churn_rate"]),
        (
            "churn rate, healthy (highest band)",
            "pct",
            current["healthy_churn_rate"],
            fitted["healthy_churn_rate"],
        ),
        ("AUC of the churn probability", "auc", None, fitted["model_auc"]),
    ]
    for component in report["components"]:
        rows.append(
            (f"weight {component}", "", current["weights"].get(component), fitted["weights"][component])
        )
    lines = [
        f"calibration at {report['horizon_days']} days, as of {report['as_of_date']}: fitted on "
        f"{len(report['training_months'])} months ({report['training_account_months']:,} account-months, "
        f"{report['churned_accounts']['training']} churned accounts), judged on the held-out months "
        f"{', '.join(report['held_out_months'])} ({current['account_months']:,} account-months, "
        f"{report['churned_accounts']['held_out']} churned accounts)",
        f"  {'':38} {'current':>14} {'fitted':>14}",
    ]
    for label, kind, left, right in rows:
        lines.append(f"  {label:38} {_fmt(left, kind):>14} {_fmt(right, kind):>14}")
    if "credibility" in fitted:
        raw = ", ".join(f"{c} {w:g}" for c, w in fitted["history_weights"].items())
        lines.append(
            f"  fitted weights = (1 - Z) x current + Z x the history's own ({raw}); "
            f"Z = {fitted['credibility']:.2f} from {report['churned_accounts']['training']} churned accounts "
            f"(--prior-strength {report['model']['prior_strength']:g})"
        )
    return lines


def _current_weights(project_dir: Path, report: dict[str, Any]) -> None:
    version = report["current"]["config_version"]
    from pipelines.calibrate.core import HEALTH_WEIGHT, read_config

    for row in read_config(project_dir / "seeds"):
        match = HEALTH_WEIGHT.match(row["parameter_name"])
        if (
            row["config_version"] == version
            and row["segment"] == "*"
            and match
            and match.group("component") in report["current"]["weights"]
        ):
            report["current"]["weights"][match.group("component")] = float(row["parameter_value"])


def command(settings, args: argparse.Namespace) -> int:
    """The `calibrate` command: print the comparison (or the activation ranking); 2 when refused."""
    from pipelines.calibrate.core import (
        calibrate,
        next_version,
        rank_activation_events,
        read_config,
        read_history,
        write_version,
    )

    out = summary_log.info
    try:
        if args.activation:
            ranking = rank_activation_events(settings.warehouse)
            out("candidate activation events: retention of accounts that reached it within N days of signup")
            out(
                ranking.to_string(index=False) if not ranking.empty else "  no candidate with enough accounts"
            )
            if args.json_file:
                Path(args.json_file).write_text(ranking.to_json(orient="records", indent=2), encoding="utf-8")
            return EXIT_OK
        options = Options(
            horizon_days=args.horizon,
            held_out_months=args.held_out_months,
            min_churned_accounts=args.min_churned,
            min_held_out_churned_accounts=args.min_held_out_churned,
            regularisation=args.regularisation,
            prior_strength=args.prior_strength,
        )
        history = read_history(settings.warehouse, settings.project_dir, options.horizon_days)
        report, model, weights = calibrate(history, options)
        _current_weights(settings.project_dir, report)
        if args.write:
            seeds = settings.project_dir / "seeds"
            version = args.config_version or next_version(read_config(seeds))
            report["fitted"]["config_version"] = version
            write_version(seeds, report, model, weights, version, args.replace)
        for line in comparison_table(report):
            out(line)
        if args.write:
            out(
                f"written: config_version {report['fitted']['config_version']} to "
                "seeds/scoring_config.csv and seeds/churn_model_coefficients.csv "
                "(adopt it with the dbt var scoring_config_version)"
            )
        else:
            out("nothing written (pass --write to add the fitted weights as a new config_version)")
        if args.json_file:
            Path(args.json_file).write_text(
                json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8"
            )
        return EXIT_OK
    except CalibrationRefused as exc:
        logger.error("calibrate refused: %s", exc)
        out(f"calibrate refused: {exc}")
        return EXIT_REFUSED
