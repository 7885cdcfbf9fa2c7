"""Account detail: how healthy is this account, why, and what happened to it lately?"""

import pandas as pd
import streamlit as st

from reports import components as ui
from reports import data

ui.page_header(
    "Account detail",
    "One account's score and its five components over time, quadrant history, usage against seats, "
    "key features used, alerts and signals, renewal and ARR, CS touches and NPS, and any CSM override.",
)

choices = ui.load(data.account_choices, what="Accounts")
if ui.empty_note(choices, "No accounts in the warehouse."):
    st.stop()

ids = choices["account_id"].tolist()
labels = dict(zip(choices["account_id"], choices["account_name"], strict=True))
requested = st.query_params.get("account_id")
index = ids.index(requested) if requested in ids else 0
if requested and requested not in ids:
    st.warning(f"Unknown account id {requested!r}; showing {ids[0]}.")
account_id = st.selectbox(
    "Account", ids, index=index, format_func=lambda value: f"{value} · {labels.get(value) or ''}"
)
st.query_params["account_id"] = account_id

frames = ui.load(data.account_detail, account_id, what="Account")
if frames is None or frames["account"] is None or frames["account"].empty:
    st.info(f"No account {account_id!r} in the warehouse.")
    st.stop()

account = frames["account"].iloc[0]


def _not_published(name: str) -> None:
    st.info(f"Not published in this warehouse yet ({name}).")


# an axis with no data leaves the quadrant unknown: say why rather than print a blank
quadrant = account["quadrant"]
if quadrant is None or pd.isna(quadrant):
    quadrant = "unknown (" + str(account.get("quadrant_status") or "not scored").replace("_", " ") + ")"

st.header(f"{account['account_name']}  ·  {account['account_id']}")
st.caption(
    f"Segment **{account['segment']}** · CSM **{account['csm_owner']}** · "
    f"Subscription **{account['subscription_status']}** · Quadrant **{quadrant}** "
    f"(previously {account['previous_quadrant'] or '—'}) · Health band **{account['health_band']}**"
)

if bool(account["has_override"]):
    st.warning(
        f"**CSM override in place.** {account['override_note'] or '(no note)'}", icon=":material/edit_note:"
    )
if bool(account["is_at_risk"]):
    st.error("This account is **at risk**.", icon=":material/warning:")

metrics = st.columns(4)
metrics[0].metric(
    "Health score",
    ui.number(account["health_score"]),
    delta=None
    if pd.isna(account["health_score_delta_30d"])
    else f"{account['health_score_delta_30d']:+.1f} in 30 d",
)
metrics[1].metric("Usage score", ui.number(account["usage_score"]))
metrics[2].metric("Relationship score", ui.number(account["relationship_score"]))
metrics[3].metric("Quadrant", quadrant)

churn = st.columns(4)
probability = account.get("churn_probability_90d")
churn[0].metric(
    "Churn probability (90 d)",
    ui.percent(probability) if pd.notna(probability) else "—",
    help="The churn model's probability that this account churns within 90 days, from today's component "
    "scores (Model accuracy shows how well it is calibrated). None on a day with insufficient data.",
)
churn[1].metric("Config version", str(account.get("config_version") or "—"))

money = st.columns(4)
money[0].metric("ARR", ui.money(account["arr"]))
money[1].metric("MRR", ui.money(account["mrr"]))
money[2].metric(
    "Renewal date",
    f"{pd.Timestamp(account['renewal_date']):%Y-%m-%d}" if pd.notna(account["renewal_date"]) else "—",
)
money[3].metric("Days to renewal", ui.number(account["days_to_renewal"]))

usage = st.columns(4)
usage[0].metric("Active users (7 d)", ui.number(account["active_users_7d"]))
usage[1].metric(
    "Active users (30 d) / seats",
    f"{ui.number(account['active_users_30d'])} / {ui.number(account['licensed_seats'])}",
)
usage[2].metric("Active-user ratio (30 d)", ui.percent(account["active_user_ratio_30d"]))
usage[3].metric("Key features used (30 d)", ui.number(account["key_features_used_30d"]))
last_active = account["last_active_at"]
st.caption(
    "Last active: "
    + (f"{pd.Timestamp(last_active):%Y-%m-%d %H:%M} UTC" if pd.notna(last_active) else "never")
    + f" ({ui.number(account['days_since_active'])} days ago)"
)

history = frames["history"]
if history is None:
    _not_published("daily health history")
elif not ui.empty_note(history, "No daily scores for this account."):
    left, right = st.columns(2)
    left.altair_chart(
        ui.score_history_chart(history, ["health_score", "usage_score", "relationship_score"], "Scores"),
        width="stretch",
    )
    right.altair_chart(
        ui.score_history_chart(
            history,
            ["recency_score", "adoption_score", "depth_score", "breadth_score", "cs_engagement_score"],
            "The five components",
        ),
        width="stretch",
    )
    st.altair_chart(ui.quadrant_history_chart(history), width="stretch")

usage = frames["usage"]
if usage is not None and not usage.empty:
    left, right = st.columns(2)
    left.altair_chart(ui.usage_vs_seats_chart(usage), width="stretch")
    if usage[["avg_nps_180d", "avg_nps_last_90d"]].notna().any().any():
        right.altair_chart(ui.nps_trend_chart(usage), width="stretch")
    else:
        right.info("No NPS answers from this account in the history.")

st.subheader("Key features used")
features = frames["features"]
if features is None:
    _not_published("key feature usage")
elif not ui.empty_note(features, "No key features defined for this account."):
    as_of = features["as_of_date"].max()
    st.caption(
        "Each key feature over the 30 days up to "
        + (f"{pd.Timestamp(as_of):%Y-%m-%d}" if pd.notna(as_of) else "the latest day")
        + ": used or not, distinct active users and events in that window, and the last day it was used."
    )
    ui.table(
        features.drop(columns=["as_of_date"]),
        column_config={
            "feature": st.column_config.TextColumn("Key feature"),
            "is_adopted_30d": st.column_config.CheckboxColumn("Used (30 d)"),
            "active_users_30d": st.column_config.NumberColumn("Active users (30 d)"),
            "events_30d": st.column_config.NumberColumn("Events (30 d)"),
            "last_used_on": st.column_config.DateColumn("Last used", format="YYYY-MM-DD"),
        },
    )

left, right = st.columns(2)
with left:
    st.subheader("Alerts")
    if frames["alerts"] is None:
        _not_published("health alerts")
    elif not ui.empty_note(frames["alerts"], "No alerts for this account."):
        ui.table(frames["alerts"], money_columns=("arr",))
with right:
    st.subheader("Expansion signals")
    if frames["signals"] is None:
        _not_published("expansion signals")
    elif not ui.empty_note(frames["signals"], "No expansion signals for this account."):
        ui.table(frames["signals"])

left, right = st.columns(2)
with left:
    st.subheader("Quadrant moves")
    if frames["movements"] is None:
        _not_published("quadrant movements")
    elif not ui.empty_note(frames["movements"], "No quadrant changes recorded."):
        ui.table(frames["movements"])
with right:
    st.subheader("MRR by month")
    if frames["mrr"] is None:
        _not_published("MRR movements")
    elif not ui.empty_note(frames["mrr"], "No billing history for this account."):
        ui.table(
            frames["mrr"].sort_values("month_start", ascending=False),
            money_columns=("mrr", "previous_mrr", "mrr_change"),
        )

left, right = st.columns(2)
with left:
    st.subheader("Recent CS touches")
    if frames["touches"] is not None:
        if not ui.empty_note(frames["touches"], "No CS touches recorded."):
            ui.table(frames["touches"])
    elif usage is not None and not usage.empty:
        latest = usage.iloc[-1]
        st.metric("Human CS touches in the last 90 days", ui.number(latest["human_touches_90d"]))
        st.caption(f"Days since the last human touch: {ui.number(latest['days_since_human_touch'])}")
    else:
        _not_published("CS touches")
with right:
    st.subheader("NPS answers")
    if frames["nps"] is not None:
        if not ui.empty_note(frames["nps"], "No NPS answers from this account."):
            ui.table(frames["nps"])
    elif usage is not None and not usage.empty:
        latest = usage.iloc[-1]
        st.metric("Average NPS answer, last 180 days", ui.number(latest["avg_nps_180d"], 1))
    else:
        _not_published("NPS answers")
