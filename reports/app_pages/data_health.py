"""Data health: is the published data fresh and complete, what was rejected on the way in, and what
looks wrong in what was not (data findings)? Reasons, counts and ids only: never a raw payload."""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Data health",
    "When the warehouse was last published, how fresh each mart is, the latest runs, the raw records "
    "that were rejected, by reason, and the data findings that are not rejections.",
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
    # Raw payloads can carry personal data (e-mails), so the app shows reasons and counts only.
    st.caption(
        "Raw payloads are not shown here (they can carry e-mail addresses); they stay queryable in SQL "
        "in `quality.rejected_records` (`raw_payload`)."
    )

st.subheader("Data findings")
st.caption(
    "Records that were not rejected but change what the marts say: subscriptions of one account that "
    "overlap, product use with no subscription running, Stripe customers no account names (their ARR is "
    "in no mart), key features and milestones that never occur."
)
by_type = ui.load(data.data_findings_by_type, what="Data findings")
if not ui.empty_note(by_type, "No data finding."):
    columns = st.columns(min(len(by_type), 5))
    for column, row in zip(columns, by_type.itertuples(index=False), strict=False):
        column.metric(row.finding_type.replace("_", " ").capitalize(), ui.number(row.findings))
    ui.table(by_type, money_columns=("arr",))
    kinds = ["All kinds", *by_type["finding_type"].tolist()]
    kind = st.selectbox("Show findings of", kinds)
    findings = ui.load(data.data_findings, None if kind == "All kinds" else kind, what="Data findings")
    if findings is not None:
        ui.table(findings, money_columns=("arr", "invoiced_amount"))
