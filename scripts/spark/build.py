"""Build the dbt project on Spark (pyspark session mode) from a DuckDB-landed warehouse.

Run with the Spark virtual environment (.venv-spark: dbt-spark[session], duckdb, pyarrow); the
wrapper scripts/spark_build.sh prepares everything. dlt has no Spark destination, so:

1. every table of the raw schemas (raw_product, raw_stripe, raw_crm) of the DuckDB file written by
   `pipelines.load` is exported to Parquet (DuckDB COPY, one folder per table);
2. a Spark session with Spark's in-memory catalog (no Hive metastore: Derby start-up costs minutes
   on a busy machine and nothing needs to outlive the run) registers each folder as an external
   Parquet table of the same schema and name (`raw_product.events`, ...); table files of dbt's
   models go under ACCOUNT_HEALTH_SPARK_DIR/warehouse;
3. `dbt build` runs in the same process (dbtRunner) on the `spark` target of profiles.yml, whose
   session parameters are the ones used here, so dbt reuses this session and sees the raw tables.

Usage: python scripts/spark/build.py --warehouse FILE [--spark-dir DIR] [-- dbt args...]
Exit status: dbt's (0 when every model, seed and test passed).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RAW_SCHEMAS = ("raw_product", "raw_stripe", "raw_crm")

log = logging.getLogger("spark_build")


def export_raw_to_parquet(warehouse: Path, parquet_dir: Path) -> dict[str, Path]:
    """Export every raw table (dlt's own `_dlt_*` tables too) to `parquet_dir/<schema>/<table>/`."""
    import duckdb

    if parquet_dir.exists():
        shutil.rmtree(parquet_dir)
    exported = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ? and table_type = 'BASE TABLE' order by 1, 2",
            [list(RAW_SCHEMAS)],
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            # JSON is text to every other engine; Spark reads Parquet's JSON logical type poorly.
            select_list = ", ".join(
                f'cast("{name}" as varchar) as "{name}"' if data_type == "JSON" else f'"{name}"'
                for name, data_type in columns
            )
            folder = parquet_dir / schema / table
            folder.mkdir(parents=True)
            con.execute(
                f'copy (select {select_list} from "{schema}"."{table}") '
                f"to '{folder / 'part-0.parquet'}' (format parquet)"
            )
            exported[f"{schema}.{table}"] = folder
    log.info("exported %d raw tables to %s", len(exported), parquet_dir)
    return exported


def spark_session(spark_dir: Path):
    """The session dbt-spark will reuse: the same parameters as the `spark` output of profiles.yml."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in {
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": f"{spark_dir}/warehouse",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "2g",
        "spark.sql.ansi.enabled": "false",
        # ReorderJoin fails an assertion on a CTE cross-joined twice (docs/PORTABILITY.md)
        "spark.sql.optimizer.excludedRules": "org.apache.spark.sql.catalyst.optimizer.ReorderJoin",
    }.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def register_raw_tables(spark, exported: dict[str, Path]) -> None:
    """(Re)create each raw table as an external Parquet table over its exported folder."""
    for schema in RAW_SCHEMAS:
        spark.sql(f"create database if not exists {schema}")
    for name, folder in exported.items():
        spark.sql(f"drop table if exists {name}")
        spark.sql(f"create table {name} using parquet location '{folder}'")
    log.info("registered %d raw tables in Spark", len(exported))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path, help="DuckDB file holding raw_* schemas")
    parser.add_argument(
        "--spark-dir",
        type=Path,
        default=Path(os.environ.get("ACCOUNT_HEALTH_SPARK_DIR", "/tmp/account_health_spark")),
        help="metastore, table files and exported Parquet (deleted and recreated)",
    )
    parser.add_argument("dbt_args", nargs="*", help="dbt command and arguments (default: build)")
    # dbt's own options (--select, --exclude, ...) pass through with or without a `--` separator.
    args, passthrough = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    spark_dir = args.spark_dir.resolve()
    if spark_dir.exists():
        shutil.rmtree(spark_dir)
    spark_dir.mkdir(parents=True)
    os.environ.update(
        {
            "ACCOUNT_HEALTH_TARGET": "spark",
            "ACCOUNT_HEALTH_SPARK_DIR": str(spark_dir),
            "DBT_PROFILES_DIR": str(REPO_ROOT),
            "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    os.environ.setdefault("DBT_TARGET_PATH", str(spark_dir / "target"))
    os.environ.setdefault("DBT_LOG_PATH", str(spark_dir / "logs"))
    # Derby writes derby.log and Spark its scratch files into the working directory.
    os.chdir(spark_dir)

    exported = export_raw_to_parquet(args.warehouse.resolve(), spark_dir / "raw_parquet")
    spark = spark_session(spark_dir)
    spark.sparkContext.setLogLevel("WARN")
    register_raw_tables(spark, exported)

    from dbt.cli.main import dbtRunner

    dbt_args = [*args.dbt_args, *passthrough] or ["build"]
    result = dbtRunner().invoke(
        [*dbt_args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
    )
    if result.exception is not None:
        log.error("dbt failed: %s", result.exception)
    status = 0 if result.success else 1
    log.info("dbt %s on Spark: %s", " ".join(dbt_args), "passed" if status == 0 else "FAILED")
    spark.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
