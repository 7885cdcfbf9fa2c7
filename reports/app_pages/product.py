"""Product: which key features do healthy accounts use that struggling ones do not?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Product",
    "Adoption of each key feature by quadrant, and by accounts that renewed versus churned where the mart "
    "carries that split.",
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
