"""Issue 5: on the demo company the health score separates outcomes (`marts.mart_score_backtest`).

A mid-size demo company is generated (fixed seed and end date, so the figures are the same on every
run), landed with the real pipeline (dlt) and built by dbt up to the backtest. The generator's
latent trajectories drive usage, the CS relationship and churn at renewal (pipelines/demo), so a
score that reads usage and CS engagement should rank churn: the at-risk band must churn within 90
days at least BAR times as often as the healthy band. Measured on this company (DECISIONS.md,
2026-11-24), 90 days: at_risk 34/146 = 23.3 %, neutral 42/654 = 6.4 %, healthy 15/675 = 2.2 %;
scores under 30 21/71 = 29.6 %, 70 and over 15/675 = 2.2 %; insufficient_data 21 of 1496
account-months from the product source's first day. A build costs about 5 minutes (12 under load).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_support import dbt_build

from pipelines.demo import generate
from pipelines.load import load_drop

pytestmark = pytest.mark.slow

DEMO = {"accounts": 240, "days": 300, "seed": 42, "end_date": "2026-06-30"}
# Everything the backtest needs; data tests and unit tests run in their own suites.
SELECT = [
    "--select",
    "+mart_score_backtest",
    "+fct_account_health_daily",
    "--exclude-resource-type",
    "test",
    "unit_test",
]
# at-risk churn rate / healthy churn rate at the 90-day horizon must reach this.
BAR = 3.0
# ... over at least this many churned at-risk account-months (not one account's luck).
MIN_AT_RISK_CHURNS = 8


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("score_separation")
    drop, db = tmp / "drop", tmp / "wh.duckdb"
    generate(drop, **DEMO, progress=False)
    load_drop(drop, db, progress=False, pipelines_dir=str(tmp / "dlt"))
    dbt_build(tmp, db, *SELECT)
    return db


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _bands(db: Path, horizon: int) -> dict[str, tuple[int, int]]:
    rows = _query(
        db,
        """
        select health_band, sum(accounts), sum(churned_accounts)
        from marts.mart_score_backtest
        where horizon_days = ? and config_version = 'v1'
        group by health_band
        """,
        [horizon],
    )
    return {band: (int(n), int(churned)) for band, n, churned in rows}


def test_at_risk_band_churns_far_more_than_healthy_within_90_days(warehouse: Path) -> None:
    bands = _bands(warehouse, 90)
    (risk_n, risk_churned), (ok_n, ok_churned) = bands["at_risk"], bands["healthy"]
    risk_rate, ok_rate = risk_churned / risk_n, ok_churned / ok_n
    figures = f"at_risk {risk_churned}/{risk_n}, healthy {ok_churned}/{ok_n}"
    assert risk_churned >= MIN_AT_RISK_CHURNS, figures
    assert risk_rate >= BAR * ok_rate, figures
    # and the neutral band sits between them: the ranking holds across all three bands
    neutral_n, neutral_churned = bands["neutral"]
    figures += f", neutral {neutral_churned}/{neutral_n}"
    assert ok_rate <= neutral_churned / neutral_n <= risk_rate, figures


def test_scores_under_30_churn_more_than_scores_of_70_and_over(warehouse: Path) -> None:
    """The same ranking on the raw score (the issue's 'under 30' and 'over 70' groups), 90 days."""
    rows = _query(
        warehouse,
        """
        with scored as (
            select
                health.account_id,
                health.date_day,
                health.health_score,
                exists (
                    select 1
                    from marts.fct_mrr_movements as churn
                    where churn.account_id = health.account_id
                      and churn.movement_type = 'churn'
                      and churn.month_start > health.date_day
                      and churn.month_start <= health.date_day + 90
                ) as has_churned
            from marts.fct_account_health_daily as health
            inner join marts.fct_mrr_movements as paying
                on paying.account_id = health.account_id
                and paying.month_start = health.date_day
                and paying.mrr > 0
            where not health.is_insufficient_data
              and health.date_day + 90 <= (select max(date_day) from marts.fct_account_health_daily)
        )
        select
            case when health_score < 30 then 'under_30' when health_score >= 70 then 'over_70' end,
            count(*),
            sum(case when has_churned then 1 else 0 end)
        from scored
        where health_score < 30 or health_score >= 70
        group by 1
        """,
    )
    groups = {name: (int(n), int(churned)) for name, n, churned in rows}
    (low_n, low_churned), (high_n, high_churned) = groups["under_30"], groups["over_70"]
    figures = f"under 30: {low_churned}/{low_n}, 70 and over: {high_churned}/{high_n}"
    assert low_churned / low_n >= BAR * high_churned / high_n, figures


def test_insufficient_data_is_a_minority_of_the_months_the_score_can_exist(warehouse: Path) -> None:
    """Months before the product source's first day cannot be scored (no events: `source_stale`);
    from that day on, most paying account-months get a band."""
    ((first_scored_day,),) = _query(
        warehouse,
        "select min(date_day) from marts.fct_account_health_daily where insufficient_data_reason is null",
    )
    before = _query(
        warehouse,
        """
        select distinct insufficient_data_reason
        from marts.fct_account_health_daily
        where date_day < ?
        """,
        [first_scored_day],
    )
    assert {reason for (reason,) in before} <= {"source_stale", "account_too_new"}
    ((months, insufficient),) = _query(
        warehouse,
        """
        select sum(accounts), sum(case when health_band = 'insufficient_data' then accounts else 0 end)
        from marts.mart_score_backtest
        where horizon_days = 90 and config_version = 'v1' and scored_on >= ?
        """,
        [first_scored_day],
    )
    assert months > 0
    assert insufficient / months < 0.2, f"{insufficient} of {months} account-months insufficient_data"
