"""Shared widgets, formatting and chart builders of the reporting app.

Pages stay small: they ask ``reports.data`` for frames through ``load`` (which turns a missing
warehouse or mart into a message instead of a traceback) and draw them with the builders here.
Charts only encode columns the marts computed; nothing here derives a score or an amount.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import altair as alt
import pandas as pd
import streamlit as st

from reports import data

T = TypeVar("T")

# Display order and colours of the contract's quadrants (CONTRACT section 3).
QUADRANTS = ["Champions", "Frustrated Power Users", "Relationship-Dependent", "Churn Risk"]
QUADRANT_COLOURS = ["#2e7d32", "#f9a825", "#1565c0", "#c62828"]
RENEWAL_WINDOWS = ["0-30", "31-60", "61-90", "91-180", "181+"]
MOVEMENT_TYPES = ["new", "expansion", "reactivation", "flat", "contraction", "churn"]
MOVEMENT_COLOURS = ["#2e7d32", "#66bb6a", "#26a69a", "#9e9e9e", "#ffa726", "#c62828"]

MISSING_WAREHOUSE_TITLE = "No warehouse to report on"


def load(function: Callable[..., T], *args: Any, what: str = "", **kwargs: Any) -> T | None:
    """Calls a ``reports.data`` function; shows a message instead of failing.

    A missing or unreadable warehouse stops the page (nothing else can be shown); a missing mart
    shows a warning in place of the section and returns ``None`` so the rest of the page renders.
    """
    try:
        return function(*args, **kwargs)
    except data.WarehouseUnavailable as error:
        st.error(f"**{MISSING_WAREHOUSE_TITLE}.** {error}")
        st.stop()
    except data.MartMissing as error:
        label = f"{what}: " if what else ""
        missing_section(label + ", ".join(error.tables))
    return None


def missing_section(what: str) -> None:
    """The message shown in place of a section whose mart (or column) is not published."""
    st.warning(
        f"This section needs data that is not in the published warehouse ({what}). "
        "Run `make run` to rebuild and publish the warehouse."
    )


def page_header(title: str, question: str) -> None:
    """Title plus the one question the page answers."""
    st.title(title)
    st.caption(question)


def empty_note(frame: pd.DataFrame | None, message: str) -> bool:
    """Shows ``message`` and returns True when ``frame`` is missing or empty."""
    if frame is None:
        return True
    if frame.empty:
        st.info(message)
        return True
    return False


DATE_SUFFIXES = ("_on", "_date", "_day", "week_start", "month_start", "quarter_start", "cohort_month")


def table(
    frame: pd.DataFrame,
    money_columns: tuple[str, ...] = (),
    percent_columns: tuple[str, ...] = (),
    **config: Any,
) -> None:
    """``st.dataframe`` with dates shown as dates, money as dollars and 0-1 ratios as percents."""
    column_config: dict[str, Any] = {}
    for column in frame.columns:
        if str(column).endswith(DATE_SUFFIXES) and pd.api.types.is_datetime64_any_dtype(frame[column]):
            column_config[column] = st.column_config.DateColumn(format="YYYY-MM-DD")
    for column in money_columns:
        column_config[column] = st.column_config.NumberColumn(format="dollar")
    for column in percent_columns:
        column_config[column] = st.column_config.NumberColumn(format="percent")
    column_config.update(config.pop("column_config", {}))
    st.dataframe(frame, hide_index=True, column_config=column_config, **config)


def money(value: Any) -> str:
    """``$1,234,567`` (currency units, no cents); an em dash for nulls."""
    if value is None or pd.isna(value):
        return "—"
    return f"${float(value):,.0f}"


def percent(value: Any, digits: int = 1) -> str:
    """``12.3%`` from a 0-1 ratio; an em dash for nulls."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def number(value: Any, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def sidebar_status() -> None:
    """Which warehouse the app reads, when it was published, and a reload button."""
    with st.sidebar:
        try:
            stamp = data.file_stamp()
        except data.WarehouseUnavailable:
            st.caption(f"Warehouse: `{data.warehouse_path()}` (missing)")
            return
        modified = pd.Timestamp(stamp.mtime_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
        st.caption(f"Warehouse: `{stamp.path}`  \nPublished: {modified}")
        if st.button("Reload data", help="Drop cached results and read the warehouse again"):
            data.clear_cache()
            data.close_connections()
            st.rerun()


# --------------------------------------------------------------------------------------------------
# Charts (altair; each takes a mart frame and encodes its columns)
# --------------------------------------------------------------------------------------------------


def _quadrant_scale() -> alt.Scale:
    return alt.Scale(domain=QUADRANTS, range=QUADRANT_COLOURS)


def _band_scale(bands: list[str]) -> alt.Scale:
    """Bands from the lowest score to the highest, red to green."""
    palette = ["#c62828", "#ef6c00", "#f9a825", "#9e9d24", "#2e7d32"]
    if len(bands) <= 1:
        colours = palette[-1:]
    else:
        step = (len(palette) - 1) / (len(bands) - 1)
        colours = [palette[round(index * step)] for index in range(len(bands))]
    return alt.Scale(domain=bands, range=colours)


def arr_histogram_chart(frame: pd.DataFrame, bands: list[str], bin_width: int = 10) -> alt.Chart:
    """ARR-weighted histogram of the health score: bar height = ARR in the bin, colour = band."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "score_bin:Q",
                bin=alt.Bin(binned=True, step=bin_width),
                scale=alt.Scale(domain=[0, 100]),
                title="Health score",
            ),
            x2="score_bin_end:Q",
            y=alt.Y("arr:Q", stack=True, title="ARR"),
            color=alt.Color("health_band:N", scale=_band_scale(bands), title="Health band"),
            tooltip=["score_bin", "health_band", "accounts", alt.Tooltip("arr:Q", format=",.0f")],
        )
        .transform_calculate(score_bin_end=f"datum.score_bin + {int(bin_width)}")
    )


def band_trend_chart(frame: pd.DataFrame, bands: list[str]) -> alt.Chart:
    """Stacked area of ARR per health band over weeks (lowest band at the bottom)."""
    ranks = {band: rank for rank, band in enumerate(bands)}
    frame = frame.assign(band_rank=frame["health_band"].map(ranks).fillna(len(bands)))
    return (
        alt.Chart(frame)
        .mark_area()
        .encode(
            x=alt.X("week_start:T", title="Week"),
            y=alt.Y("arr:Q", stack=True, title="ARR"),
            color=alt.Color("health_band:N", scale=_band_scale(bands), title="Health band"),
            order=alt.Order("band_rank:Q"),
            tooltip=["week_start:T", "health_band", "accounts", alt.Tooltip("arr:Q", format=",.0f")],
        )
    )


def usage_vs_seats_chart(frame: pd.DataFrame) -> alt.Chart:
    """Active users (30 d) against licensed seats over days."""
    long = frame.melt(
        id_vars=["date_day"],
        value_vars=["active_users_30d", "licensed_seats"],
        var_name="measure",
        value_name="users",
    )
    return (
        alt.Chart(long, title="Active users (30 d) vs licensed seats")
        .mark_line()
        .encode(
            x=alt.X("date_day:T", title="Day"),
            y=alt.Y("users:Q", title="Users"),
            color=alt.Color("measure:N", title=None),
            tooltip=["date_day:T", "measure", "users"],
        )
    )


def nps_trend_chart(frame: pd.DataFrame) -> alt.Chart:
    """The account's average NPS answer over trailing windows, per day."""
    long = frame.melt(
        id_vars=["date_day"],
        value_vars=["avg_nps_180d", "avg_nps_last_90d"],
        var_name="average",
        value_name="nps",
    ).dropna()
    return (
        alt.Chart(long, title="NPS (average answer, 0-10)")
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("date_day:T", title="Day"),
            y=alt.Y("nps:Q", scale=alt.Scale(domain=[0, 10]), title="NPS answer"),
            color=alt.Color("average:N", title=None),
            tooltip=["date_day:T", "average", alt.Tooltip("nps:Q", format=".1f")],
        )
    )


def quadrant_scatter(frame: pd.DataFrame) -> alt.LayerChart:
    """Usage vs relationship score, one bubble per account sized by ARR, with the 50/50 cross."""
    points = (
        alt.Chart(frame)
        .mark_circle(opacity=0.7)
        .encode(
            x=alt.X("usage_score:Q", scale=alt.Scale(domain=[0, 100]), title="Usage score"),
            y=alt.Y("relationship_score:Q", scale=alt.Scale(domain=[0, 100]), title="Relationship score"),
            size=alt.Size("arr:Q", title="ARR", scale=alt.Scale(range=[20, 800])),
            color=alt.Color("quadrant:N", scale=_quadrant_scale(), title="Quadrant"),
            tooltip=[
                "account_id",
                "account_name",
                "segment",
                "csm_owner",
                alt.Tooltip("health_score:Q", format=".0f"),
                alt.Tooltip("arr:Q", format=",.0f"),
                "quadrant",
            ],
        )
    )
    rules = alt.Chart(pd.DataFrame({"value": [50]}))
    return (
        points
        + rules.mark_rule(strokeDash=[4, 4]).encode(x="value:Q")
        + rules.mark_rule(strokeDash=[4, 4]).encode(y="value:Q")
    )


def at_risk_chart(frame: pd.DataFrame) -> alt.Chart:
    """At-risk ARR per renewal window, stacked by segment."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "renewal_window:N", sort=RENEWAL_WINDOWS, title="Days to renewal", axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("at_risk_arr:Q", title="At-risk ARR"),
            color=alt.Color("segment:N", title="Segment"),
            tooltip=[
                "renewal_window",
                "segment",
                "at_risk_accounts",
                alt.Tooltip("at_risk_arr:Q", format=",.0f"),
                alt.Tooltip("total_arr:Q", format=",.0f"),
            ],
        )
    )


def score_history_chart(frame: pd.DataFrame, columns: list[str], title: str) -> alt.Chart:
    """Lines of several 0-100 score columns over days. A day without a score (null, or a day of
    insufficient data when the frame carries ``health_band``) is a gap in its line, never a 0 and
    never a line drawn across it: each unbroken run of days is its own path (``detail``)."""
    long = score_history_long(frame, columns)
    return (
        alt.Chart(long, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=8))
        .encode(
            x=alt.X("date_day:T", title="Day"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 100]), title="Score"),
            color=alt.Color("score:N", sort=columns, title=None),
            detail="run:N",
            tooltip=[alt.Tooltip("date_day:T", title="Day"), "score", alt.Tooltip("value:Q", format=".1f")],
        )
    )


def score_history_long(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per day and score that has a value, with ``run``: the score and the number of gaps
    before the day, so the days on either side of a gap fall in different paths."""
    wide = frame.sort_values("date_day").reset_index(drop=True)
    if "health_band" in wide.columns:
        # a day of insufficient data has no reading: its scores are gaps, not values
        wide.loc[wide["health_band"] == "insufficient_data", columns] = None
    parts = []
    for column in columns:
        values = pd.to_numeric(wide[column], errors="coerce")
        gaps = values.isna().cumsum()
        part = pd.DataFrame(
            {
                "date_day": wide["date_day"],
                "score": column,
                "value": values,
                "run": column + "#" + gaps.astype(str),
            }
        )
        parts.append(part[values.notna()])
    if not parts:
        return pd.DataFrame(columns=["date_day", "score", "value", "run"])
    return pd.concat(parts, ignore_index=True)


def quadrant_history_chart(frame: pd.DataFrame) -> alt.Chart:
    """The account's quadrant on each day, as a coloured strip."""
    return (
        alt.Chart(frame, title="Quadrant history")
        .mark_tick(thickness=3, size=30)
        .encode(
            x=alt.X("date_day:T", title="Day"),
            y=alt.Y("quadrant:N", sort=QUADRANTS, title=None),
            color=alt.Color("quadrant:N", scale=_quadrant_scale(), legend=None),
            tooltip=["date_day:T", "quadrant"],
        )
    )


def mrr_bridge_chart(frame: pd.DataFrame) -> alt.Chart:
    """MRR change per month, stacked by movement type."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month_start):O", title="Month"),
            y=alt.Y("mrr_change:Q", title="MRR change"),
            color=alt.Color(
                "movement_type:N",
                scale=alt.Scale(domain=MOVEMENT_TYPES, range=MOVEMENT_COLOURS),
                title="Movement",
            ),
            tooltip=[
                "month_start:T",
                "movement_type",
                "accounts",
                alt.Tooltip("mrr_change:Q", format=",.0f"),
            ],
        )
    )


def retention_lines_chart(frame: pd.DataFrame) -> alt.Chart:
    """NRR and GRR per month."""
    long = frame.melt(id_vars=["month_start"], value_vars=["nrr", "grr"], var_name="rate", value_name="value")
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("month_start:T", title="Month"),
            y=alt.Y("value:Q", axis=alt.Axis(format="%"), title="Retention"),
            color=alt.Color("rate:N", title=None),
            tooltip=["month_start:T", "rate", alt.Tooltip("value:Q", format=".1%")],
        )
    )


def heatmap(frame: pd.DataFrame, x: str, y: str, value: str, x_title: str, y_title: str) -> alt.LayerChart:
    """A labelled heatmap of a 0-1 rate."""
    base = alt.Chart(frame).encode(
        x=alt.X(f"{x}:O", title=x_title),
        y=alt.Y(f"{y}:O", title=y_title),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="greens", domainMin=0), title=None),
        tooltip=[x, y, alt.Tooltip(f"{value}:Q", format=".1%")],
    )
    labels = base.mark_text(fontSize=10).encode(text=alt.Text(f"{value}:Q", format=".0%"))
    return cells + labels


def backtest_chart(frame: pd.DataFrame, bands: list[str]) -> alt.Chart:
    """Churn rate per scoring date, one line per health band (lowest band red, highest green,
    insufficient data grey); scoring dates are dates on the axis and in the tooltip."""
    judged = [band for band in bands if band != "insufficient_data"]
    colours = _band_scale(judged).to_dict()["range"] if judged else []
    scale = alt.Scale(domain=judged + ["insufficient_data"], range=[*colours, "#9e9e9e"])
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("scored_on:T", title="Scored on", axis=alt.Axis(format="%Y-%m-%d")),
            y=alt.Y("churn_rate:Q", axis=alt.Axis(format="%"), title="Churned within horizon"),
            color=alt.Color("health_band:N", scale=scale, sort=bands, title="Health band"),
            tooltip=[
                alt.Tooltip("scored_on:T", title="Scored on", format="%Y-%m-%d"),
                "health_band",
                "accounts",
                "churned_accounts",
                alt.Tooltip("churn_rate:Q", format=".1%"),
            ],
        )
    )


def calibration_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Observed churn rate against the mean predicted probability per decile, with the diagonal a
    calibrated model would sit on."""
    top = float(max(frame["mean_predicted_probability"].max(), frame["observed_churn_rate"].max(), 0.01))
    diagonal = pd.DataFrame({"predicted": [0.0, top], "observed": [0.0, top]})
    line = (
        alt.Chart(diagonal)
        .mark_line(strokeDash=[4, 4], color="#9e9e9e")
        .encode(x="predicted:Q", y="observed:Q")
    )
    points = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "mean_predicted_probability:Q", axis=alt.Axis(format="%"), title="Predicted (decile mean)"
            ),
            y=alt.Y("observed_churn_rate:Q", axis=alt.Axis(format="%"), title="Observed churn"),
            tooltip=[
                "probability_decile",
                "account_months",
                "churned_account_months",
                alt.Tooltip("mean_predicted_probability:Q", format=".1%"),
                alt.Tooltip("observed_churn_rate:Q", format=".1%"),
            ],
        )
    )
    return line + points


def activation_chart(frame: pd.DataFrame) -> alt.Chart:
    """Activation rate (ever and within 30 days) per signup month."""
    long = frame.melt(
        id_vars=["signup_month"],
        value_vars=["activation_rate", "activation_rate_30d"],
        var_name="rate",
        value_name="value",
    )
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("signup_month:T", title="Signup month"),
            y=alt.Y("value:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title="Activated"),
            color=alt.Color("rate:N", title=None),
            tooltip=["signup_month:T", "rate", alt.Tooltip("value:Q", format=".1%")],
        )
    )


OUTCOMES = ["renewed", "churned"]
OUTCOME_COLOURS = ["#2e7d32", "#c62828"]


def outcome_adoption_chart(frame: pd.DataFrame) -> alt.Chart:
    """Adoption rate per key feature, a bar for renewed and one for churned accounts (one window)."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", title="Key feature"),
            yOffset=alt.YOffset("outcome:N", sort=OUTCOMES),
            x=alt.X(
                "adoption_rate:Q",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
                title="Used the feature before renewal",
            ),
            color=alt.Color(
                "outcome:N", scale=alt.Scale(domain=OUTCOMES, range=OUTCOME_COLOURS), title="Outcome"
            ),
            tooltip=[
                "feature",
                "outcome",
                "window_days",
                "accounts",
                "adopting_accounts",
                alt.Tooltip("adoption_rate:Q", format=".1%"),
            ],
        )
    )


UNKNOWN_COLOUR = "#bdbdbd"


def quadrant_distribution_chart(frame: pd.DataFrame, value: str = "account_share") -> alt.Chart:
    """Stacked bars per month: the share of accounts (or ARR) per quadrant, unknown reasons in grey."""
    cohorts = [c for c in QUADRANTS if c in set(frame["cohort"])]
    unknown = sorted(c for c in set(frame["cohort"]) if c not in QUADRANTS)
    title = "Share of accounts" if value == "account_share" else "ARR"
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month_start):T", title="Month"),
            y=alt.Y(
                f"{value}:Q",
                stack="zero",
                title=title,
                axis=alt.Axis(format="%" if value == "account_share" else "$,.0f"),
            ),
            color=alt.Color(
                "cohort:N",
                scale=alt.Scale(
                    domain=cohorts + unknown,
                    range=[QUADRANT_COLOURS[QUADRANTS.index(c)] for c in cohorts]
                    + [UNKNOWN_COLOUR] * len(unknown),
                ),
                title="Quadrant",
            ),
            order=alt.Order("cohort:N"),
            tooltip=[
                alt.Tooltip("scored_on:T", title="Read on"),
                "cohort",
                "accounts",
                alt.Tooltip("account_share:Q", format=".1%"),
                alt.Tooltip("arr:Q", format="$,.0f"),
            ],
        )
    )


def quadrant_churn_chart(frame: pd.DataFrame) -> alt.Chart:
    """Churn rate per quarter, one bar per quadrant; quarters still open drawn lighter."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearquarter(quarter_start):O", title="Quarter"),
            xOffset=alt.XOffset("quadrant:N", sort=QUADRANTS),
            y=alt.Y("churn_rate:Q", axis=alt.Axis(format="%"), title="Churned in the quarter"),
            color=alt.Color("quadrant:N", scale=_quadrant_scale(), title="Quadrant at the quarter's start"),
            opacity=alt.condition("datum.is_complete", alt.value(1.0), alt.value(0.4)),
            tooltip=[
                alt.Tooltip("quarter_start:T", title="Quarter start"),
                "quadrant",
                "accounts",
                "churned_accounts",
                alt.Tooltip("churn_rate:Q", format=".1%"),
                alt.Tooltip("churn_rate_vs_champions:Q", format=".2f", title="x Champions' rate"),
                "is_complete",
            ],
        )
    )


def alerts_monthly_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Share of scored accounts alerted per month, one line per alert type, with the 50% line."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month_start):T", title="Month"),
            y=alt.Y(
                "alerted_account_share:Q",
                axis=alt.Axis(format="%"),
                # above 100% only when a rule fires on unjudged days: shown, not clipped
                scale=alt.Scale(domain=[0, max(1.0, float(frame["alerted_account_share"].max()))]),
                title="Accounts alerted / accounts scored",
            ),
            color=alt.Color("alert_type:N", title="Alert type"),
            tooltip=[
                alt.Tooltip("month_start:T", title="Month"),
                "alert_type",
                "alerts",
                "alerted_accounts",
                "scored_accounts",
                alt.Tooltip("alerted_account_share:Q", format=".1%"),
            ],
        )
    )
    half = (
        alt.Chart(pd.DataFrame({"share": [0.5]}))
        .mark_rule(strokeDash=[4, 4], color="#757575")
        .encode(y="share:Q")
    )
    return alt.layer(lines, half)
