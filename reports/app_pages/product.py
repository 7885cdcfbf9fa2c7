"""Product: which key features do healthy accounts use that struggling ones do not?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Product",
    "Adoption of each key feature by quadrant (which features do healthy accounts use that struggling ones "
    "do not?), and how each signup cohort reached first value.",
)

adoption = ui.load(data.feature_adoption, what="Feature adoption")
if not ui.empty_note(adoption, "No feature adoption yet."):
    st.subheader("Adoption rate by quadrant")
    st.altair_chart(
        ui.heatmap(adoption, "quadrant", "feature", "adoption_rate", "Quadrant", "Feature"),
        width="stretch",
    )
    ui.table(
        adoption,
        column_config={"adoption_rate": st.column_config.NumberColumn("Adoption rate", format="percent")},
    )

st.subheader("Activation by signup month")
activation = ui.load(data.activation, what="Activation")
if not ui.empty_note(activation, "No signup cohorts yet."):
    st.altair_chart(ui.activation_chart(activation), width="stretch")
    ui.table(activation, percent_columns=("activation_rate", "activation_rate_30d"))
