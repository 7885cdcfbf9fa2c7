"""Quadrant review: which accounts changed quadrant recently in a way that needs attention?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Quadrant review",
    "The weekly quadrant movements: who moved where, and which moves the model flags as needing attention.",
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
