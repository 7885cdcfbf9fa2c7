"""Priority queue: which accounts should CS call first, and why?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Priority queue",
    "Which accounts need a CSM's attention first, and the reasons the model gives. "
    "Filter by owner, segment and quadrant; download the list as CSV.",
)

options = ui.load(data.filter_options, what="Filters") or {}
columns = st.columns(3)
csm_owners = columns[0].multiselect("CSM", options.get("csm_owner", []), placeholder="All CSMs")
segments = columns[1].multiselect("Segment", options.get("segment", []), placeholder="All segments")
quadrants = columns[2].multiselect("Quadrant", options.get("quadrant", []), placeholder="All quadrants")

queue = ui.load(data.priority_queue, csm_owners, segments, quadrants, what="Priority queue")
if not ui.empty_note(queue, "No account matches these filters."):
    st.caption(f"{len(queue)} accounts")
    # A link per row to the account's detail page (relative URL: works behind any host and port).
    shown = queue.assign(detail="account_detail?account_id=" + queue["account_id"].astype(str))
    ui.table(
        shown,
        height=min(600, 36 * (len(shown) + 1) + 2),
        column_config={
            "detail": st.column_config.LinkColumn("Detail", display_text="Open"),
            "priority_rank": st.column_config.NumberColumn("Rank"),
            "account_id": st.column_config.TextColumn("Account"),
            "account_name": st.column_config.TextColumn("Name"),
            "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
            "arr": st.column_config.NumberColumn("ARR", format="dollar"),
            "days_to_renewal": st.column_config.NumberColumn("Days to renewal"),
            "priority_score": st.column_config.NumberColumn("Priority", format="%.1f"),
            "reasons": st.column_config.TextColumn("Reasons", width="large"),
        },
    )
    st.download_button(
        "Download CSV",
        queue.to_csv(index=False).encode("utf-8"),
        file_name="cs_priority_queue.csv",
        mime="text/csv",
    )
    st.caption("“Open” shows the account on the Account detail page.")
