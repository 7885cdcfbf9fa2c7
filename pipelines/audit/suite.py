"""The expectations the marts must meet before a candidate warehouse is published.

These restate, as a last gate on the finished tables, the promises of CONTRACT section 3 that a
reader relies on: keys present and unique, scores on 0-100, categories from their closed lists,
at-risk ARR never above total ARR, and row counts near the previous publish (a join that fans out
or a filter that empties a mart is caught even when every dbt test passed). dbt tests check the
same rules model by model; this suite is the publish gate and the published Data Docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUADRANTS = ["Champions", "Frustrated Power Users", "Relationship-Dependent", "Churn Risk"]
RENEWAL_WINDOWS = ["0-30", "31-60", "61-90", "91-180", "181+"]
MRR_MOVEMENT_TYPES = ["new", "expansion", "contraction", "churn", "reactivation", "flat"]


@dataclass(frozen=True)
class MartChecks:
    """What to expect of one mart. Columns named here must exist (expect_column_to_exist)."""

    keys: tuple[str, ...]  # not null, and unique together
    scores: tuple[str, ...] = ()  # each between 0 and 100 (nulls allowed)
    ratios: tuple[str, ...] = ()  # each between 0 and 1 (nulls allowed)
    values: dict[str, list[str]] = field(default_factory=dict)  # column -> accepted values
    not_null: tuple[str, ...] = ()
    # (a, b): a >= b on every row (e.g. total_arr >= at_risk_arr)
    at_least: tuple[tuple[str, str], ...] = ()
    nonnegative: tuple[str, ...] = ()
    # Compare the row count with the previous publish (marts whose size follows the accounts).
    bounded_rowcount: bool = False
    must_have_rows: bool = False


MART_CHECKS: dict[str, MartChecks] = {
    "dim_accounts": MartChecks(
        keys=("account_id",),
        scores=("usage_score", "relationship_score", "health_score"),
        values={"quadrant": QUADRANTS, "previous_quadrant": QUADRANTS},
        not_null=("is_at_risk", "has_override"),
        nonnegative=("arr", "mrr"),
        bounded_rowcount=True,
        must_have_rows=True,
    ),
    "fct_account_health_daily": MartChecks(
        keys=("account_id", "date_day"),
        scores=(
            "recency_score",
            "adoption_score",
            "depth_score",
            "breadth_score",
            "cs_engagement_score",
            "usage_score",
            "relationship_score",
            "health_score",
        ),
        values={"quadrant": QUADRANTS},
        bounded_rowcount=True,
        must_have_rows=True,
    ),
    "fct_quadrant_movements": MartChecks(
        keys=("account_id", "week_start"),
        values={"from_quadrant": QUADRANTS, "to_quadrant": QUADRANTS},
    ),
    "fct_health_alerts": MartChecks(keys=("alert_id",), not_null=("account_id", "alerted_on", "alert_type")),
    "fct_expansion_signals": MartChecks(keys=(), not_null=("account_id", "signaled_on", "signal_type")),
    "mart_at_risk_arr": MartChecks(
        keys=("as_of_date", "renewal_window", "segment"),
        values={"renewal_window": RENEWAL_WINDOWS},
        at_least=(("total_arr", "at_risk_arr"), ("accounts", "at_risk_accounts")),
        nonnegative=("at_risk_arr", "at_risk_accounts"),
    ),
    "mart_cs_priority_queue": MartChecks(keys=("account_id",), not_null=("priority_rank",)),
    "fct_mrr_movements": MartChecks(
        keys=("account_id", "month_start"),
        values={"movement_type": MRR_MOVEMENT_TYPES},
        bounded_rowcount=True,
    ),
    "mart_revenue_retention": MartChecks(keys=("month_start",)),
    "mart_cohort_retention": MartChecks(keys=("cohort_month", "months_since_start")),
    "mart_feature_adoption": MartChecks(
        keys=("feature", "quadrant"),
        ratios=("adoption_rate",),
        values={"quadrant": QUADRANTS},
        at_least=(("accounts", "adopting_accounts"),),
    ),
    "mart_score_backtest": MartChecks(
        keys=("scored_on", "horizon_days", "config_version", "health_band"),
        ratios=("churn_rate",),
        at_least=(("accounts", "churned_accounts"),),
    ),
}


def build_expectations(checks: MartChecks, previous_rows: int | None, limits) -> list:
    """The great-expectations Expectation objects for one mart.

    `limits` carries rowcount_min_ratio, rowcount_max_ratio and rowcount_slack (see config.Settings).
    """
    import great_expectations as gx

    exp = gx.expectations
    out = []
    named = set(checks.keys) | set(checks.scores) | set(checks.ratios) | set(checks.values)
    named |= set(checks.not_null) | set(checks.nonnegative) | {c for pair in checks.at_least for c in pair}
    for column in sorted(named):
        out.append(exp.ExpectColumnToExist(column=column))
    for column in checks.keys + checks.not_null:
        out.append(exp.ExpectColumnValuesToNotBeNull(column=column))
    if len(checks.keys) == 1:
        out.append(exp.ExpectColumnValuesToBeUnique(column=checks.keys[0]))
    elif len(checks.keys) > 1:
        out.append(exp.ExpectCompoundColumnsToBeUnique(column_list=list(checks.keys)))
    for column in checks.scores:
        out.append(exp.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=100))
    for column in checks.ratios:
        out.append(exp.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1))
    for column in checks.nonnegative:
        out.append(exp.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    for column, accepted in checks.values.items():
        out.append(exp.ExpectColumnValuesToBeInSet(column=column, value_set=accepted))
    for column_a, column_b in checks.at_least:
        out.append(
            exp.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_a, column_B=column_b, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        )
    min_rows = 1 if checks.must_have_rows else 0
    max_rows = None
    if checks.bounded_rowcount and previous_rows:
        min_rows = max(min_rows, int(previous_rows * limits.rowcount_min_ratio))
        max_rows = int(previous_rows * limits.rowcount_max_ratio) + limits.rowcount_slack
    if min_rows or max_rows is not None:
        out.append(exp.ExpectTableRowCountToBeBetween(min_value=min_rows, max_value=max_rows))
    return out
