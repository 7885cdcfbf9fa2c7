"""The lake landing (pipelines/lake.py) without Spark: dlt's filesystem destination on the fixture drop.

What Spark does with the lake is tested in test_spark_smoke.py; here: the same rows as the DuckDB
landing (bad records quarantined alike), a second landing gives the same lake, a drop without
billing/ still declares every raw_stripe table, and the type listing Spark declares tables from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines import lake as lake_module
from pipelines.lake import land_lake, read_manifest, spark_type
from pipelines.load import load_drop

FIXTURE_DROP = Path(__file__).parent / "fixtures" / "drop_small"
# dlt's bookkeeping differs between any two loads by design (random ids, the load's clock)
LOAD_COLUMNS = {"_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id", "_loaded_at"}


def _lake_rows(lake: Path, table: dict) -> list[tuple]:
    """The rows of one lake table, without dlt's load bookkeeping, sorted."""
    files = [str(path) for path in sorted((lake / table["folder"]).glob("*.parquet"))]
    if not files:
        return []
    columns = [column for column in table["columns"] if column not in LOAD_COLUMNS]
    with duckdb.connect() as con:
        present = {d[0] for d in con.execute("select * from read_parquet(?) limit 0", [files]).description}
        select_list = ", ".join(f'"{c}"' if c in present else "null" for c in columns)
        rows = con.execute(f"select {select_list} from read_parquet(?, union_by_name = true)", [files])
        return sorted(rows.fetchall(), key=repr)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    work = tmp_path_factory.mktemp("lake")
    drop = work / "drop"
    shutil.copytree(FIXTURE_DROP, drop)
    # a line the loader quarantines (the fixture's other bad records are rejected later, in staging)
    with (drop / "billing" / "customers.jsonl").open("a", encoding="utf-8") as file:
        file.write('{"id": "cus_broken", "email": \n')
    lake = work / "lake"
    first = land_lake(drop, lake, progress=False)
    duck = work / "raw.duckdb"
    load_drop(drop, duck, destination="duckdb", progress=False, pipelines_dir=str(work / "dlt"))
    return work, drop, lake, first, duck


def test_lake_has_the_rows_of_the_duckdb_landing(landed):
    """Every raw table, quarantines included, has the same rows in the lake as in DuckDB."""
    _, _, lake, _, duck = landed
    tables = read_manifest(lake)
    with duckdb.connect(str(duck), read_only=True) as con:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw_product', 'raw_stripe', 'raw_crm') and table_name not like '%dlt%'"
        ).fetchall()
        assert len(names) >= 15
        for schema, table in names:
            entry = tables[f"{schema}.{table}"]
            columns = [c for c in entry["columns"] if c not in LOAD_COLUMNS]
            duck_columns = {
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            }
            select_list = ", ".join(f'"{c}"' if c in duck_columns else "null" for c in columns)
            in_duckdb = sorted(
                con.execute(f'select {select_list} from {schema}."{table}"').fetchall(), key=repr
            )
            # JSON columns are text in the lake: compare DuckDB's as text too
            in_duckdb = [
                tuple(v if not isinstance(v, dict | list) else json.dumps(v) for v in r) for r in in_duckdb
            ]
            assert _lake_rows(lake, entry) == in_duckdb, f"{schema}.{table}"
    quarantined = _lake_rows(lake, tables["raw_stripe.quarantined_records"])
    assert len(quarantined) == 1, "the malformed line is quarantined in the lake too"


def test_landing_again_gives_the_same_lake(landed):
    """No duplicated rows and no leftovers: a second landing replaces the first one whole."""
    work, drop, lake, first, _ = landed
    again = work / "again"
    shutil.copytree(lake, again)
    second = land_lake(drop, again, progress=False)
    assert second["tables"] == first["tables"]
    assert second["rows"] == first["rows"]
    for entry in first["tables"].values():
        assert _lake_rows(again, entry) == _lake_rows(lake, entry), entry["folder"]
    assert not (work / "again.landing").exists() and not (work / "again.previous").exists()


def test_a_drop_without_billing_still_declares_every_stripe_table(tmp_path):
    """The tables and columns staging reads are listed even when no file was written for them."""
    drop = tmp_path / "drop"
    shutil.copytree(FIXTURE_DROP, drop)
    shutil.rmtree(drop / "billing")
    land_lake(drop, tmp_path / "lake", progress=False)
    tables = read_manifest(tmp_path / "lake")
    for table in ("customers", "subscriptions", "subscriptions__items__data", "invoices", "prices"):
        entry = tables[f"raw_stripe.{table}"]
        assert "id" in entry["columns"] or "_dlt_parent_id" in entry["columns"]
        assert not list((tmp_path / "lake" / entry["folder"]).glob("*.parquet"))
    assert tables["raw_stripe.customers"]["columns"]["id"] == "string"


def test_read_manifest_explains_a_folder_that_is_no_lake(tmp_path):
    with pytest.raises(FileNotFoundError, match="--destination lake"):
        read_manifest(tmp_path)


def test_spark_types_of_dlt_columns():
    assert spark_type({"name": "a", "data_type": "decimal", "precision": 18, "scale": 6}) == "decimal(18,6)"
    assert spark_type({"name": "a", "data_type": "decimal"}) == "decimal(38,9)"
    assert spark_type({"name": "a", "data_type": "bigint", "precision": 32}) == "int"
    assert spark_type({"name": "a", "data_type": "bigint"}) == "bigint"
    assert spark_type({"name": "a", "data_type": "json"}) == "string"
    assert spark_type({"name": "a", "data_type": "timestamp"}) == "timestamp"
    with pytest.raises(ValueError, match="no Spark type"):
        spark_type({"name": "a", "data_type": "interval"})


def test_lake_dir_setting(monkeypatch, tmp_path):
    """--lake-dir, then ACCOUNT_HEALTH_LAKE_DIR, then lake/ beside the warehouse file."""
    monkeypatch.delenv(lake_module.LAKE_ENV, raising=False)
    assert lake_module.lake_dir(tmp_path / "wh" / "health.duckdb") == tmp_path / "wh" / "lake"
    monkeypatch.setenv(lake_module.LAKE_ENV, str(tmp_path / "env_lake"))
    assert lake_module.lake_dir(tmp_path / "wh" / "health.duckdb") == tmp_path / "env_lake"
    assert lake_module.lake_dir(None, str(tmp_path / "given")) == tmp_path / "given"
