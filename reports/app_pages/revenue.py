"""Revenue: how is recurring revenue moving, and how well do we keep it?"""

import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Revenue",
    "MRR movements by month (new, expansion, contraction, churn, reactivation), net and gross revenue "
    "retention, and how each start cohort retains logos and revenue.",
)

retention = ui.load(data.revenue_retention, what="Revenue retention")
if not ui.empty_note(retention, "No revenue history yet."):
    latest = retention.iloc[-1]
    columns = st.columns(4)
    columns[0].metric(f"Starting MRR ({latest['month_start']:%Y-%m})", ui.money(latest["starting_mrr"]))
    columns[1].metric("NRR", ui.percent(latest["nrr"]))
    columns[2].metric("GRR", ui.percent(latest["grr"]))
    columns[3].metric("Logo churn rate", ui.percent(latest["logo_churn_rate"]))
    st.subheader("NRR and GRR by month")
    st.altair_chart(ui.retention_lines_chart(retention), width="stretch")
    with st.expander("Monthly MRR bridge (table)"):
        ui.table(
            retention,
            money_columns=("starting_mrr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr"),
            percent_columns=("nrr", "grr", "logo_churn_rate", "revenue_churn_rate"),
        )

movements = ui.load(data.mrr_movements_by_month, what="MRR movements")
if not ui.empty_note(movements, "No MRR movements yet."):
    st.subheader("MRR change by movement type")
    st.altair_chart(ui.mrr_bridge_chart(movements), width="stretch")

cohorts = ui.load(data.cohort_retention, what="Cohort retention")
if not ui.empty_note(cohorts, "No cohorts yet."):
    cohorts = cohorts.assign(cohort=cohorts["cohort_month"].astype(str).str[:7])
    metric = st.radio("Cohort retention of", ["revenue_retention", "logo_retention"], horizontal=True)
    st.subheader("Cohort retention")
    st.altair_chart(
        ui.heatmap(cohorts, "months_since_start", "cohort", metric, "Months since start", "Start cohort"),
        width="stretch",
    )
