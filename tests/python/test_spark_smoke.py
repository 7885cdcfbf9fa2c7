"""Spark smoke test, inside `make test`: the lake landing round trip and the whole model graph on Spark.

One tiny demo company (the size `make test-spark` uses) is generated and landed twice by dlt: as
Parquet files into a lake by `account-health load --destination lake`, and into a DuckDB file.
Spark (.venv-spark; scripts/spark/build.py: one JVM, dbt in-process) declares the lake's tables as
external Parquet tables and runs `dbt build` without the unit tests (they run on DuckDB in
test_dbt_unit_tests.py, and on Spark in the full `make test-spark`); DuckDB builds the same models
meanwhile. Every relation of the `marts` schema is then read back from both engines (Spark's through
Parquet files it writes itself) and compared with the PostgreSQL parity test's rules.

.venv-spark is created from requirements-spark.lock when missing (scripts/spark/venv.sh: a few minutes
once). Skipped only when Java is absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import duckdb
import pytest
from dbt_support import REPO_ROOT, SPARK_VENV, cli_env, dbt_command, ensure_spark_venv
from test_portability_postgres import compare_relation

pytestmark = [pytest.mark.spark_smoke, pytest.mark.slow]

DEMO = {"accounts": 20, "days": 40, "seed": 7, "end_date": "2026-06-30"}
SPARK_TIMEOUT_S = 1800
# intermediate views as tables on Spark: a data test on a view recomputes its chain there
INTERMEDIATE_AS_TABLES = os.environ.get("ACCOUNT_HEALTH_INTERMEDIATE_AS_TABLES", "1")


@pytest.fixture(scope="module")
def spark_and_duckdb(tmp_path_factory):
    """Land the demo company as a lake and as a DuckDB file; build on Spark and DuckDB concurrently."""
    ensure_spark_venv()

    from pipelines.demo import generate

    work = tmp_path_factory.mktemp("spark_smoke")
    drop, lake = work / "drop", work / "lake"
    generate(
        str(drop),
        accounts=DEMO["accounts"],
        days=DEMO["days"],
        seed=DEMO["seed"],
        end_date=dt.date.fromisoformat(DEMO["end_date"]),
        progress=False,
    )
    env = cli_env()
    landed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "load", "--source-dir", str(drop)]
        + [
            "--warehouse",
            str(work / "wh" / "health.duckdb"),
            "--destination",
            "lake",
            "--lake-dir",
            str(lake),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert landed.returncode == 0, f"lake landing failed:\n{landed.stdout}\n{landed.stderr}"

    spark_dir, export_dir = work / "spark", work / "spark_marts"
    spark_log = (work / "spark_build.log").open("w")
    spark = subprocess.Popen(
        [str(SPARK_VENV / "bin" / "python"), str(REPO_ROOT / "scripts" / "spark" / "build.py")]
        + ["--lake", str(lake), "--spark-dir", str(spark_dir), "--export-dir", str(export_dir)]
        + ["--export-schema", "marts", "--", "build", "--exclude-resource-type", "unit_test"],
        env={
            **env,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "ACCOUNT_HEALTH_INTERMEDIATE_AS_TABLES": INTERMEDIATE_AS_TABLES,
        },
        stdout=spark_log,
        stderr=subprocess.STDOUT,
    )
    try:
        from pipelines.load import load_drop

        duck = work / "duck.duckdb"
        load_drop(drop, duck, destination="duckdb", progress=False, pipelines_dir=str(work / "dlt_duckdb"))
        # seeds and models only: DuckDB's data tests run in the rest of the suite
        dbt_command(work / "duck_dbt", duck, "build", "--resource-type", "seed", "--resource-type", "model")
        spark.wait(timeout=SPARK_TIMEOUT_S)
    finally:
        if spark.poll() is None:
            spark.kill()
            spark.wait()
        spark_log.close()
    log_tail = (work / "spark_build.log").read_text(errors="replace")[-4000:]
    run_results = spark_dir / "target" / "run_results.json"
    assert run_results.exists(), f"dbt on Spark wrote no run_results.json:\n{log_tail}"
    statuses = {r["unique_id"]: r["status"] for r in json.loads(run_results.read_text())["results"]}
    return {
        "lake": lake,
        "duck": duck,
        "returncode": spark.returncode,
        "statuses": statuses,
        "export_dir": export_dir,
        "log_tail": log_tail,
    }


def test_lake_holds_dlt_parquet_files_of_every_raw_table(spark_and_duckdb):
    """dlt wrote Parquet files for the landed tables, and the listing declares every raw table with
    the same rows as the DuckDB landing of the same drop."""
    lake = spark_and_duckdb["lake"]
    tables = json.loads((lake / "lake_tables.json").read_text())
    with duckdb.connect(str(spark_and_duckdb["duck"]), read_only=True) as con:
        raw = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw_product', 'raw_stripe', 'raw_crm')"
        ).fetchall()
        for (name,) in raw:
            if name.split(".")[1].startswith("_dlt"):
                continue
            assert name in tables, f"{name} is landed in DuckDB but not declared in the lake"
            files = sorted((lake / tables[name]["folder"]).glob("*.parquet"))
            in_duckdb = con.execute(f"select count(*) from {name}").fetchone()[0]
            in_lake = (
                con.execute(
                    "select count(*) from read_parquet(?, union_by_name = true)", [[str(f) for f in files]]
                ).fetchone()[0]
                if files
                else 0
            )
            assert in_lake == in_duckdb, f"{name}: {in_lake} rows in the lake, {in_duckdb} in DuckDB"
    assert any((lake / "raw_product" / "events").glob("*.parquet"))


def test_dbt_build_passes_on_spark(spark_and_duckdb):
    """Every seed, model and data test of the graph passes on Spark (warnings allowed: the quadrant
    coverage test warns on every engine for so small a company)."""
    statuses = spark_and_duckdb["statuses"]
    # exposures are no-ops by nature
    failed = {
        node: status
        for node, status in statuses.items()
        if status not in ("success", "pass", "warn", "no-op")
    }
    assert not failed, f"{len(failed)} nodes failed on Spark: {failed}\n{spark_and_duckdb['log_tail']}"
    assert sum(node.startswith("model.") for node in statuses) > 50, "the model graph was not built"
    assert sum(node.startswith("test.") for node in statuses) > 100, "the data tests did not run"
    assert spark_and_duckdb["returncode"] == 0, spark_and_duckdb["log_tail"]


def test_marts_equal_on_spark_and_duckdb(spark_and_duckdb):
    """Every mart built on Spark from the lake equals DuckDB's, row by row, after sorting."""
    export_dir = spark_and_duckdb["export_dir"] / "marts"
    spark_marts = sorted(path.name for path in export_dir.iterdir()) if export_dir.exists() else []
    with duckdb.connect(str(spark_and_duckdb["duck"]), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        duck_marts = sorted(
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        )
        assert spark_marts == duck_marts
        problems = []
        for name in duck_marts:
            duck_cursor = con.execute(f'select * from marts."{name}"')
            duck_columns = [d[0] for d in duck_cursor.description]
            duck_rows = duck_cursor.fetchall()
            files = str(export_dir / name / "*.parquet")
            spark_columns = [
                d[0] for d in con.execute("select * from read_parquet(?) limit 0", [files]).description
            ]
            if sorted(spark_columns) != sorted(duck_columns):
                problems.append(
                    f"marts.{name}: columns differ: duckdb {duck_columns} vs spark {spark_columns}"
                )
                continue
            # Spark's rows with the columns in DuckDB's order
            select_list = ", ".join(f'"{column}"' for column in duck_columns)
            spark_rows = con.execute(f"select {select_list} from read_parquet(?)", [files]).fetchall()
            problems += compare_relation(
                f"marts.{name}", (duck_columns, duck_rows), (duck_columns, spark_rows)
            )
    assert len(duck_marts) >= 10
    assert not problems, "\n".join(problems)
