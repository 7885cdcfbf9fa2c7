"""Portfolio: where is our ARR on the health scale, how is that moving, and what renews at risk?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Portfolio",
    "How much ARR sits in each health band and quadrant, how that moved over recent weeks, "
    "and how much at-risk ARR renews soon, by segment.",
)

summary = ui.load(data.portfolio_summary, what="Summary")
if summary is not None and not summary.empty:
    row = summary.iloc[0]
    columns = st.columns(4)
    columns[0].metric("Accounts", ui.number(row["accounts"]))
    columns[1].metric("ARR", ui.money(row["total_arr"]))
    columns[2].metric("At-risk accounts", ui.number(row["at_risk_accounts"]))
    columns[3].metric("At-risk ARR", ui.money(row["at_risk_arr"]))

left, right = st.columns(2)
with left:
    st.subheader("ARR by health band")
    bands = ui.load(data.arr_by_health_band, what="ARR by health band")
    if not ui.empty_note(bands, "No accounts in the warehouse."):
        st.altair_chart(ui.arr_by_band_chart(bands), width="stretch")
with right:
    st.subheader("Usage vs relationship")
    accounts = ui.load(data.accounts_for_scatter, what="Quadrant scatter")
    if not ui.empty_note(accounts, "No accounts in the warehouse."):
        st.altair_chart(ui.quadrant_scatter(accounts), width="stretch")

st.subheader("ARR by quadrant over the last 26 weeks")
trend = ui.load(data.quadrant_trend, 26, what="Quadrant trend")
if not ui.empty_note(trend, "No daily health history yet."):
    st.altair_chart(ui.quadrant_trend_chart(trend), width="stretch")

st.subheader("At-risk ARR by renewal window and segment")
at_risk = ui.load(data.at_risk_arr, what="At-risk ARR")
if not ui.empty_note(at_risk, "No renewals in the warehouse."):
    st.caption(f"As of {at_risk['as_of_date'].iloc[0]}")
    st.altair_chart(ui.at_risk_chart(at_risk), width="stretch")
    st.dataframe(
        at_risk,
        hide_index=True,
        width="stretch",
        column_config={
            "total_arr": st.column_config.NumberColumn("Total ARR", format="dollar"),
            "at_risk_arr": st.column_config.NumberColumn("At-risk ARR", format="dollar"),
        },
    )
