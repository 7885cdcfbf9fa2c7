"""The marts store no 128-bit DuckDB types: the app reads one account at a time and pays for them.

DuckDB stores ``HUGEINT`` (what ``sum()`` of integers returns) and ``DECIMAL`` wider than 18 digits
(``dbt.type_numeric()`` is ``numeric(28,6)``) as 128-bit integers, 25-50x slower to decode than
64-bit ones (docs/APP.md, "Account-detail data access"). Scores are ``round_score()`` /
``type_score()``, money ``type_money()``, integer sums ``dbt.type_bigint()`` (macros/narrow_types.sql).
This test reads the demo warehouse the app tests build, so a model that widens a column again fails
here instead of slowing the account page down silently.
"""

from __future__ import annotations

from test_app_support import query

WIDE_COLUMNS_SQL = """
select table_name, column_name, data_type
from information_schema.columns
where table_schema = 'marts'
    and (data_type = 'HUGEINT' or data_type = 'UHUGEINT'
         or (data_type like 'DECIMAL%' and numeric_precision > 18))
order by table_name, column_name
"""


def test_no_mart_column_is_hugeint_or_a_decimal_wider_than_18_digits():
    marts = query("select count(*) as n from information_schema.tables where table_schema = 'marts'")
    assert marts["n"].iloc[0] > 10, "the demo warehouse has no marts to check"
    wide = query(WIDE_COLUMNS_SQL)
    listed = [f"{row.table_name}.{row.column_name} {row.data_type}" for row in wide.itertuples()]
    assert not listed, "128-bit columns in marts (cast them where they are made):\n" + "\n".join(listed)


def test_scores_money_and_counts_have_their_narrow_types():
    types = query(
        "select table_name || '.' || column_name as name, data_type from information_schema.columns "
        "where table_schema = 'marts'"
    ).set_index("name")["data_type"]
    assert types["fct_account_health_daily.health_score"] == "DECIMAL(5,1)"
    assert types["dim_accounts.usage_score"] == "DECIMAL(5,1)"
    assert types["mart_cs_priority_queue.priority_score"] == "DECIMAL(5,1)"
    assert types["dim_accounts.arr"] == "DECIMAL(18,6)"
    assert types["fct_account_health_daily.active_users_30d"] == "BIGINT"
    assert types["mart_at_risk_arr.at_risk_accounts"] == "BIGINT"
