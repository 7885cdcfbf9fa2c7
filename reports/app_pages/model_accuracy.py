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
