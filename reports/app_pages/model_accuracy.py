"""Model accuracy: did low health scores really precede churn, under each config version, and does
the churn probability mean what it says?"""

import pandas as pd
import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Model accuracy",
    "The backtest: accounts scored on past dates, grouped by the health band they had, and the share that "
    "churned within the horizon. A useful score shows churn falling as the band improves. Every config "
    "version is scored on the same dates, so a change of weights is judged before it is adopted.",
)

BANDS = ["at_risk", "neutral", "healthy", "insufficient_data"]

backtest = ui.load(data.score_backtest, what="Backtest")
if not ui.empty_note(backtest, "No backtest results yet."):
    horizons = sorted(backtest["horizon_days"].unique().tolist())
    horizon = st.selectbox("Horizon (days)", horizons, index=len(horizons) - 1)
    versions = sorted(backtest["config_version"].dropna().unique().tolist())
    # by default the version that scored the published history
    scored_version = ui.load(data.scored_config_version, what="Config version")
    version = st.selectbox(
        "Config version",
        versions,
        index=versions.index(scored_version) if scored_version in versions else 0,
        help="The weights that score the accounts in the chart and the table below.",
    )
    chosen = backtest[(backtest["horizon_days"] == horizon) & (backtest["config_version"] == version)]
    bands = [band for band in BANDS if band in set(chosen["health_band"])]
    st.subheader(f"Churn rate by health band within {horizon} days ({version})")
    st.altair_chart(ui.backtest_chart(chosen, bands), width="stretch")
    ui.table(
        chosen,
        column_config={
            "scored_on": st.column_config.DateColumn("Scored on", format="YYYY-MM-DD"),
            "churn_rate": st.column_config.NumberColumn("Churn rate", format="percent"),
        },
    )

    accuracy = ui.load(data.score_backtest_accuracy, what="Flag accuracy")
    if accuracy is not None and not accuracy.empty and horizon in set(accuracy["horizon_days"]):
        pooled = accuracy[accuracy["horizon_days"] == horizon]
        current = pooled[pooled["config_version"] == version]
        row = current.iloc[0] if not current.empty else pooled.iloc[0]
        st.subheader(f"Is the at-risk flag worth acting on? ({horizon} days, every scoring date pooled)")
        cols = st.columns(4)
        cols[0].metric(
            "At-risk precision",
            ui.percent(row["at_risk_precision"]),
            help="Of the account-months flagged at risk, the share that churned within the horizon.",
        )
        cols[1].metric(
            "At-risk recall",
            ui.percent(row["at_risk_recall"]),
            help="Of the account-months that churned within the horizon, the share flagged at risk.",
        )
        cols[2].metric("Churn rate, score under 30", ui.percent(row["churn_rate_under_30"]))
        cols[3].metric(
            "Renewal rate, score 70 and over",
            ui.percent(row["renewal_rate_over_70"]),
            help="Of the account-months scored 70 or more with a renewal due within the horizon, "
            "the share that did not churn.",
        )
        st.caption(
            f"{ui.number(row['scored_accounts'])} account-months scored on {ui.number(row['scoring_dates'])} "
            f"dates; {ui.number(row['insufficient_data_accounts'])} had too little data for a score and "
            "are left out of these figures."
        )
        if len(pooled) > 1:
            st.subheader("Config versions side by side (same accounts, same scoring dates)")
            ui.table(
                pooled[
                    [
                        "config_version",
                        "flagged_accounts",
                        "flagged_churned_accounts",
                        "churned_accounts",
                        "at_risk_precision",
                        "at_risk_recall",
                        "churn_rate_under_30",
                        "renewal_rate_over_70",
                    ]
                ],
                column_config={
                    "config_version": st.column_config.TextColumn("Config version"),
                    "at_risk_precision": st.column_config.NumberColumn("At-risk precision", format="percent"),
                    "at_risk_recall": st.column_config.NumberColumn("At-risk recall", format="percent"),
                    "churn_rate_under_30": st.column_config.NumberColumn("Churn under 30", format="percent"),
                    "renewal_rate_over_70": st.column_config.NumberColumn("Renewal 70+", format="percent"),
                },
            )

calibration = ui.load(data.churn_calibration, what="Churn calibration")
st.subheader("Churn probability: predicted against observed")
if calibration is not None and not ui.empty_note(
    calibration,
    "No held-out months for the churn model yet (`account-health calibrate --write` fits one; its "
    "held-out months need their horizon to elapse).",
):
    model = calibration["model_version"].iloc[-1]
    chosen_model = calibration[calibration["model_version"] == model]
    first = pd.Timestamp(chosen_model["first_scored_on"].min())
    last = pd.Timestamp(chosen_model["last_scored_on"].max())
    st.caption(
        f"Model {model}, {int(chosen_model['horizon_days'].iloc[0])}-day churn, on "
        f"{ui.number(chosen_model['account_months'].sum())} account-months it was not fitted on "
        f"(scored {first:%Y-%m-%d} to {last:%Y-%m-%d}), by decile of predicted probability. "
        "A calibrated model sits on the dashed diagonal."
    )
    st.altair_chart(ui.calibration_chart(chosen_model), width="stretch")
    ui.table(
        chosen_model[
            [
                "probability_decile",
                "account_months",
                "churned_account_months",
                "mean_predicted_probability",
                "observed_churn_rate",
            ]
        ],
        column_config={
            "mean_predicted_probability": st.column_config.NumberColumn("Predicted", format="percent"),
            "observed_churn_rate": st.column_config.NumberColumn("Observed", format="percent"),
        },
    )
