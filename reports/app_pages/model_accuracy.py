"""Model accuracy: did low health scores really precede churn?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Model accuracy",
    "The backtest: accounts scored on past dates, grouped by the health band they had, and the share that "
    "churned within the horizon. A useful score shows churn falling as the band improves.",
)

backtest = ui.load(data.score_backtest, what="Backtest")
if not ui.empty_note(backtest, "No backtest results yet."):
    horizons = sorted(backtest["horizon_days"].unique().tolist())
    horizon = st.selectbox("Horizon (days)", horizons, index=len(horizons) - 1)
    chosen = backtest[backtest["horizon_days"] == horizon]
    st.subheader(f"Churn rate by health band within {horizon} days")
    st.altair_chart(ui.backtest_chart(chosen), width="stretch")
    ui.table(
        chosen,
        column_config={"churn_rate": st.column_config.NumberColumn("Churn rate", format="percent")},
    )

    accuracy = ui.load(data.score_backtest_accuracy, what="Flag accuracy")
    if accuracy is not None and not accuracy.empty and horizon in set(accuracy["horizon_days"]):
        row = accuracy[accuracy["horizon_days"] == horizon].iloc[0]
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
