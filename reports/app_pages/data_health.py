"""Data health: is the published data fresh and complete, and what was rejected on the way in?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Data health",
    "When the warehouse was last published, how fresh each mart is, the latest runs, and the raw records "
    "that were rejected, by reason.",
)

status = ui.load(data.warehouse_status, what="Warehouse")
if status is not None:
    columns = st.columns(3)
    columns[0].metric("Last publish (file time)", status["modified_at"].strftime("%Y-%m-%d %H:%M UTC"))
    columns[1].metric("Size", f"{status['size_bytes'] / 1_048_576:,.1f} MB")
    columns[2].metric("Published tables", len(status["tables"]))
    st.caption(f"`{status['path']}`")

st.subheader("Runs")
runs = ui.load(data.run_log, 20, what="Run log")
if not ui.empty_note(runs, "No runs logged yet."):
    published = runs[runs["outcome"] == "published"]
    if not published.empty:
        latest = published.iloc[0]  # newest first
        st.success(f"Last published by run `{latest['run_id']}`, finished {latest['finished_at']} UTC.")
    ui.table(runs)

st.subheader("Freshness of the marts")
freshness = ui.load(data.freshness, what="Freshness")
if freshness is not None:
    ui.table(freshness)

st.subheader("Rejected records by reason")
rejected = ui.load(data.rejected_records_by_reason, what="Rejected records")
if not ui.empty_note(rejected, "No record was rejected."):
    ui.table(rejected)
    reasons = sorted(rejected["reason"].unique().tolist())
    reason = st.selectbox("Show examples of", reasons)
    sample = ui.load(data.rejected_records_sample, reason, what="Examples")
    if sample is not None:
        ui.table(sample)
