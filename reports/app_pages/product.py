"""Product: which key features do healthy accounts use that struggling ones do not?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Product",
    "Adoption of each key feature by quadrant (which features do healthy accounts use that struggling ones "
    "do not?), adoption before renewal by accounts that renewed and accounts that churned, and how each "
    "signup cohort reached first value; what Champions use that others don't and what Frustrated Power "
    "Users use most; every event the product sends, with the renewal rate of the accounts that used it.",
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

st.subheader(
    "Cross-quadrant view: what Champions use that others don't, what Frustrated Power Users use most"
)
st.caption(
    "Every event the product sends, in the last 30 days, by the quadrant of the account on the as-of date. "
    "Champions' distinctive events signal what drives retention; the events Frustrated Power Users use "
    "most signal what is embedded but broken."
)
distinctive = ui.load(data.champions_distinctive_events, what="Champions' events")
frustrated = ui.load(
    data.quadrant_top_events, "Frustrated Power Users", what="Frustrated Power Users' events"
)
percentages = ("usage_rate", "other_usage_rate", "usage_rate_gap")
left, right = st.columns(2)
with left:
    st.markdown("**Champions use more than the other quadrants**")
    if not ui.empty_note(distinctive, "No event that Champions use more than the others."):
        ui.table(distinctive, percent_columns=percentages)
with right:
    st.markdown("**Frustrated Power Users use most**")
    if not ui.empty_note(frustrated, "No Frustrated Power User account used an event in the window."):
        ui.table(frustrated, percent_columns=percentages)

st.subheader("Event taxonomy and renewal")
taxonomy = ui.load(data.event_taxonomy, what="Event taxonomy")
if not ui.empty_note(taxonomy, "No track event in the published events."):
    key_features = taxonomy[taxonomy["event_role"] == "key_feature"]
    decided = int(taxonomy["outcome_accounts"].iloc[0])
    window_days = int(taxonomy["renewal_window_days"].iloc[0])
    st.caption(
        f"{ui.number(len(taxonomy))} event names, {ui.number(len(key_features))} of them configured "
        f"key features. Renewal rate of the {ui.number(decided)} accounts with a decided renewal that "
        "used the event in the "
        f"{window_days} days before it, against those that did not (lift in points). "
        "`account-health features --write` proposes key features from this table."
    )
    ui.table(taxonomy, percent_columns=("renewal_rate_used", "renewal_rate_not_used", "renewal_rate_lift"))
