"""Portfolio: where is our ARR on the health scale, how is that moving, and what renews at risk?"""

import pandas as pd
import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Portfolio",
    "How much ARR sits in each health band and quadrant, how that moved over recent weeks, "
    "and how much at-risk ARR renews soon, by segment.",
)

frames = ui.load(data.portfolio, 26, 10, what="Portfolio")
if frames is None:
    st.stop()


def section(name: str, mart: str, empty_message: str):
    """The frame of one section, or None after showing why it is not drawn."""
    frame = frames[name]
    if frame is None:
        ui.missing_section(mart)
        return None
    return None if ui.empty_note(frame, empty_message) else frame


summary = frames["summary"]
if summary is not None and not summary.empty:
    row = summary.iloc[0]
    columns = st.columns(4)
    columns[0].metric("Accounts", ui.number(row["accounts"]))
    columns[1].metric("ARR", ui.money(row["total_arr"]))
    columns[2].metric("At-risk accounts", ui.number(row["at_risk_accounts"]))
    columns[3].metric("At-risk ARR", ui.money(row["at_risk_arr"]))

bands = [] if frames["bands"] is None else frames["bands"]["health_band"].astype(str).tolist()
left, right = st.columns(2)
with left:
    st.subheader("ARR by health score")
    histogram = section("histogram", "dim_accounts", "No scored accounts in the warehouse.")
    if histogram is not None:
        st.altair_chart(ui.arr_histogram_chart(histogram, bands, 10), width="stretch")
with right:
    st.subheader("Usage vs relationship")
    accounts = section("scatter", "dim_accounts", "No accounts in the warehouse.")
    if accounts is not None:
        st.altair_chart(ui.quadrant_scatter(accounts), width="stretch")

st.subheader("ARR by health band over the last 26 weeks")
trend = section("trend", "fct_account_health_daily: arr, health_band", "No daily health history yet.")
if trend is not None:
    st.altair_chart(ui.band_trend_chart(trend, bands), width="stretch")
if frames["bands"] is not None and not frames["bands"].empty:
    st.caption(
        "Today: "
        + " · ".join(
            f"**{row.health_band}** {ui.money(row.arr)} ({row.accounts} accounts)"
            for row in frames["bands"].itertuples()
        )
    )

st.subheader("At-risk ARR by renewal window and segment")
at_risk = section("at_risk", "mart_at_risk_arr", "No renewals in the warehouse.")
if at_risk is not None:
    st.caption(f"As of {pd.Timestamp(at_risk['as_of_date'].iloc[0]):%Y-%m-%d}")
    st.altair_chart(ui.at_risk_chart(at_risk), width="stretch")
    ui.table(
        at_risk,
        column_config={
            "as_of_date": st.column_config.DateColumn("As of"),
            "total_arr": st.column_config.NumberColumn("Total ARR", format="dollar"),
            "at_risk_arr": st.column_config.NumberColumn("At-risk ARR", format="dollar"),
        },
    )
