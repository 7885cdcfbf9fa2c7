"""Build the dbt project on Spark (pyspark session mode) from a lake landed by dlt.

Run with the Spark virtual environment (.venv-spark, requirements-spark.lock: dbt-spark[session],
pyspark); the wrapper scripts/spark_build.sh prepares everything.

1. `account-health load --destination lake` (pipelines/lake.py) has landed the drop with dlt's
   filesystem destination: Parquet files per raw table and `lake_tables.json` listing every table;
2. a Spark session with Spark's in-memory catalog (no Hive metastore: Derby start-up costs minutes
   on a busy machine and nothing needs to outlive the run) declares each raw table as an external
   Parquet table over its lake folder (`create table raw_product.events using parquet location
   ...`); table files of dbt's models go under ACCOUNT_HEALTH_SPARK_DIR/warehouse;
3. `dbt build` runs in the same process (dbtRunner) on the `spark` target of profiles.yml, whose
   session parameters are the ones used here, so dbt reuses this session and sees the raw tables.

Usage: python scripts/spark/build.py --lake DIR [--spark-dir DIR] [-- dbt args...]
Exit status: dbt's (0 when every model, seed and test passed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "lake_tables.json"  # pipelines.lake.MANIFEST (this environment has no dlt to import it)

log = logging.getLogger("spark_build")

# Test-sized data (ACCOUNT_HEALTH_SPARK_SMALL_DATA=1, the default): a build is ~750 queries of a
# few thousand rows each, so compiling costs more than running. No adaptive re-planning, no
# generated code (interpreted expressions), and the JVM's quick C1 compiler only: the smoke
# company's build took 136 s and 211 CPU-s instead of 183 s and 334 CPU-s. Set 0 for real data.
SMALL_DATA_TUNING = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


def read_manifest(lake: Path) -> dict[str, dict]:
    """The lake's table listing (pipelines/lake.py writes it after landing)."""
    path = lake / MANIFEST
    if not path.exists():
        raise SystemExit(
            f"{lake} is not a landed lake (no {MANIFEST}): run `account-health load --destination lake`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def register_lake_tables(spark, lake: Path, tables: dict[str, dict], empty_dir: Path) -> None:
    """(Re)create each raw table as an external Parquet table over its lake folder, with the columns
    and types of the listing: no schema inference (a Spark job per table, over a minute for the raw
    tables on a busy machine), and a column no file carries reads as null. A table no file was
    written for (a drop without billing/, nothing quarantined) gets an empty folder outside the
    lake, so the lake stays dlt's alone."""
    for schema in sorted({name.split(".")[0] for name in tables}):
        spark.sql(f"create database if not exists {schema}")
    for name, entry in tables.items():
        folder = lake / entry["folder"]
        if not (folder.is_dir() and any(folder.glob("*.parquet"))):
            folder = empty_dir / name
            folder.mkdir(parents=True, exist_ok=True)
        body = ", ".join(f"`{column}` {kind}" for column, kind in entry["columns"].items())
        spark.sql(f"drop table if exists {name}")
        spark.sql(f"create table {name} ({body}) using parquet location '{folder}'")
    log.info("registered %d raw tables of %s in Spark", len(tables), lake)


def spark_session(spark_dir: Path, extra: dict[str, str] | None = None):
    """The session dbt-spark will reuse: the same parameters as the `spark` output of profiles.yml
    (plus `extra`, for the Thrift server)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in {
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": f"{spark_dir}/warehouse",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # one partition per shuffle and scan: a test-sized company on a 2-core machine; more would
        # only add tasks (raise both for bigger data)
        "spark.sql.shuffle.partitions": os.environ.get("ACCOUNT_HEALTH_SPARK_PARTITIONS", "1"),
        "spark.default.parallelism": os.environ.get("ACCOUNT_HEALTH_SPARK_PARTITIONS", "1"),
        "spark.driver.memory": "2g",
        # Parquet timestamps as microseconds (not the legacy INT96), so other readers of the model
        # files (DuckDB in the smoke test) read them exactly
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.ansi.enabled": "false",
        # ReorderJoin fails an assertion on a CTE cross-joined twice (docs/PORTABILITY.md)
        "spark.sql.optimizer.excludedRules": "org.apache.spark.sql.catalyst.optimizer.ReorderJoin",
        **(SMALL_DATA_TUNING if os.environ.get("ACCOUNT_HEALTH_SPARK_SMALL_DATA", "1") == "1" else {}),
        **(extra or {}),
    }.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def export_relations(spark, schemas: list[str], export_dir: Path) -> None:
    """Every table and view of `schemas` as Parquet files under export_dir/<schema>/<name>/, read
    through Spark (so partition columns and column order are as the model defines them)."""
    for schema in schemas:
        # `show tables`, not spark.catalog.listTables: the catalog API decodes its rows with generated
        # code, which SMALL_DATA_TUNING switches off
        for row in spark.sql(f"show tables in {schema}").collect():
            if row.isTemporary:  # the session's temporary views are listed under every schema
                continue
            target = export_dir / schema / row.tableName
            spark.table(f"{schema}.{row.tableName}").write.mode("overwrite").parquet(str(target))
    log.info("exported %s to %s", ", ".join(schemas), export_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="the lake landed by pipelines/lake.py")
    parser.add_argument(
        "--spark-dir",
        type=Path,
        default=Path(os.environ.get("ACCOUNT_HEALTH_SPARK_DIR", "/tmp/account_health_spark")),
        help="dbt's table files, target and logs (deleted and recreated)",
    )
    parser.add_argument(
        "--export-dir",
        type=Path,
        help="after dbt, write every relation of --export-schema here as Parquet (<schema>/<name>/)",
    )
    parser.add_argument("--export-schema", action="append", default=[], help="a schema to export")
    parser.add_argument("dbt_args", nargs="*", help="dbt command and arguments (default: build)")
    # dbt's own options (--select, --exclude, ...) pass through with or without a `--` separator.
    args, passthrough = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    spark_dir = args.spark_dir.resolve()
    lake = args.lake.resolve()
    export_dir = args.export_dir.resolve() if args.export_dir else None
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

    tables = read_manifest(lake)
    spark = spark_session(spark_dir)
    spark.sparkContext.setLogLevel("ERROR")
    register_lake_tables(spark, lake, tables, spark_dir / "empty_raw_tables")

    from dbt.cli.main import dbtRunner

    dbt_args = [*args.dbt_args, *passthrough] or ["build"]
    result = dbtRunner().invoke(
        [*dbt_args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
    )
    if result.exception is not None:
        log.error("dbt failed: %s", result.exception)
    status = 0 if result.success else 1
    log.info("dbt %s on Spark: %s", " ".join(dbt_args), "passed" if status == 0 else "FAILED")
    if export_dir is not None:
        export_relations(spark, args.export_schema, export_dir)
    spark.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
