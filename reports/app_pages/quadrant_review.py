"""Quadrant review: which accounts changed quadrant recently in a way that needs attention?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Quadrant review",
    "The weekly quadrant movements: who moved where, and which moves the model flags as needing attention; "
    "the high-ARR accounts deeply embedded in the product whose health is deteriorating; the monthly "
    "quadrant distribution and the churn rate of each quadrant per quarter.",
)

columns = st.columns(2)
weeks = columns[0].slider("Weeks back", min_value=1, max_value=26, value=8)
attention_only = columns[1].toggle("Only moves that need attention", value=True)

flow = ui.load(data.quadrant_flow, weeks, what="Movement summary")
if not ui.empty_note(flow, "No quadrant changes in this period."):
    st.subheader("Moves between quadrants")
    ui.table(flow)

movements = ui.load(data.quadrant_movements, weeks, attention_only, what="Movements")
if not ui.empty_note(movements, "No movements to review in this period."):
    st.subheader(f"{len(movements)} movements")
    ui.table(
        movements,
        column_config={
            "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
            "arr": st.column_config.NumberColumn("ARR", format="dollar"),
            "needs_attention": st.column_config.CheckboxColumn("Needs attention"),
        },
    )

st.subheader("Embedded but deteriorating")
st.caption(
    "Accounts that use the product heavily (usage score at or above the embedded threshold) but whose "
    "health fell by at least the configured points in 30 days, largest ARR first. Thresholds: "
    "`embedded_usage_threshold`, `deteriorating_health_drop_points`, `high_arr_percentile` in "
    "seeds/scoring_config.csv."
)
high_arr_only = st.toggle("Only high-ARR accounts", value=True)
embedded = ui.load(data.embedded_deteriorating, high_arr_only, what="Embedded but deteriorating")
if not ui.empty_note(embedded, "No embedded account is deteriorating."):
    st.markdown(
        f"**{len(embedded)} accounts**, {ui.money(embedded['arr'].sum())} ARR"
        + (" (high-ARR only)" if high_arr_only else "")
    )
    ui.table(
        embedded,
        money_columns=("arr",),
        column_config={"is_at_risk": st.column_config.CheckboxColumn("At risk")},
    )

st.subheader("Quadrant distribution by month")
distribution = ui.load(data.quadrant_distribution_monthly, what="Quadrant distribution")
if not ui.empty_note(distribution, "No month in which an account had a quadrant yet."):
    st.caption(
        "Each month on its last scored day, from the first month any account had a quadrant. Grey: "
        "accounts whose quadrant is unknown, by reason (an axis without data, or a day not judged)."
    )
    st.altair_chart(ui.quadrant_distribution_chart(distribution), width="stretch")

st.subheader("Churn rate by quadrant per quarter")
churn = ui.load(data.quadrant_churn_quarterly, what="Churn by quadrant")
if not ui.empty_note(churn, "No quarter with paying accounts and a quadrant yet."):
    complete = churn[churn["is_complete"]]
    if not complete.empty:
        last = complete[complete["quarter_start"] == complete["quarter_start"].max()]
        st.markdown(
            f"Last complete quarter ({last['quarter_start'].iloc[0]:%Y-%m-%d}): "
            + "; ".join(
                f"{row.quadrant} {ui.percent(row.churn_rate)} "
                f"({ui.number(row.churned_accounts)} of {ui.number(row.accounts)})"
                for row in last.itertuples(index=False)
            )
        )
    st.altair_chart(ui.quadrant_churn_chart(churn), width="stretch")
    ui.table(churn, percent_columns=("churn_rate",), money_columns=("starting_mrr", "churned_mrr"))
