"""Product: which key features do healthy accounts use that struggling ones do not?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Product",
    "Adoption of each key feature by quadrant (which features do healthy accounts use that struggling ones "
    "do not?), adoption before renewal by accounts that renewed and accounts that churned, and how each "
    "signup cohort reached first value.",
)

adoption = ui.load(data.feature_adoption, what="Feature adoption")
by_outcome = ui.load(data.feature_adoption_by_outcome, what="Adoption before renewal")

left, right = st.columns(2)
with left:
    st.subheader("Adoption rate by quadrant")
    if not ui.empty_note(adoption, "No feature adoption yet."):
        st.altair_chart(
            ui.heatmap(adoption, "quadrant", "feature", "adoption_rate", "Quadrant", "Feature"),
            width="stretch",
        )
with right:
    st.subheader("Adoption before renewal: renewed vs churned")
    window = None
    if not ui.empty_note(by_outcome, "No decided renewals yet."):
        windows = sorted(int(days) for days in by_outcome["window_days"].unique())
        window = st.radio(
            "Days before the renewal date",
            windows,
            index=len(windows) - 1,
            horizontal=True,
            format_func=lambda days: f"{days} days",
        )
        shown = by_outcome[by_outcome["window_days"] == window]
        sizes = shown.drop_duplicates("outcome").set_index("outcome")["accounts"]
        st.caption(
            "Accounts by the outcome of their latest decided renewal: "
            + ", ".join(f"{ui.number(count)} {outcome}" for outcome, count in sizes.items())
            + f". Bars: share of them that used the feature in the {window} days before the renewal date."
        )
        st.altair_chart(ui.outcome_adoption_chart(shown), width="stretch")

rate = {"adoption_rate": st.column_config.NumberColumn("Adoption rate", format="percent")}
if adoption is not None and not adoption.empty:
    st.caption("Adoption by quadrant")
    ui.table(adoption, column_config=rate)
if by_outcome is not None and not by_outcome.empty:
    st.caption("Adoption before renewal, every window")
    ui.table(by_outcome, column_config=rate)

st.subheader("Activation by signup month")
activation = ui.load(data.activation, what="Activation")
if not ui.empty_note(activation, "No signup cohorts yet."):
    st.altair_chart(ui.activation_chart(activation), width="stretch")
    ui.table(activation, percent_columns=("activation_rate", "activation_rate_30d"))
