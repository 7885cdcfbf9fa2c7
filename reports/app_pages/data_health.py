"""Data health: is the published data fresh and complete, what was rejected on the way in, and what
looks wrong in what was not (data findings)? Reasons, counts and ids only: never a raw payload."""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Data health",
    "When the warehouse was last published, how fresh each mart is, the latest runs, the raw records "
    "that were rejected, by reason, the data findings that are not rejections, and how often each alert "
    "type fires per account per month.",
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

st.subheader("Alerts per account per month")
st.caption(
    "For each alert type, the accounts it fired for over the accounts scored that month. An alert "
    "that fires for more than half the accounts (above the dashed line) tells a CSM nothing."
)
alert_rates = ui.load(data.alerts_monthly, what="Alerts per month")
if not ui.empty_note(alert_rates, "No alert has fired yet."):
    latest_month = alert_rates["month_start"].max()
    latest = alert_rates[alert_rates["month_start"] == latest_month]
    noisy = latest[latest["alerted_account_share"] > 0.5]
    st.markdown(
        f"Latest month {latest_month:%Y-%m}: {ui.number(latest['scored_accounts'].iloc[0])} accounts scored; "
        + "; ".join(
            f"{row.alert_type} {ui.number(row.alerted_accounts)} ({ui.percent(row.alerted_account_share)})"
            for row in latest.itertuples(index=False)
        )
        + "."
    )
    if not noisy.empty:
        st.warning(
            "Fired for more than half the scored accounts in the latest month: "
            + ", ".join(noisy["alert_type"])
            + ". Check the rule's thresholds in seeds/scoring_config.csv."
        )
    st.altair_chart(ui.alerts_monthly_chart(alert_rates), width="stretch")
    ui.table(alert_rates, percent_columns=("alerted_account_share",))
