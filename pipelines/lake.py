"""Land the file drop as a lake of Parquet files for Spark (dlt's `filesystem` destination).

    account-health load --destination lake [--lake-dir DIR]      (env ACCOUNT_HEALTH_LAKE_DIR)

A Spark shop lands raw data as files and reads them as external tables; no DuckDB file in between.
The lake (default `lake/` beside the warehouse file) holds, per raw dataset and table, dlt's Parquet
files: `<lake>/raw_product/events/<load_id>.<file_id>.parquet`, ..., and `lake_tables.json`, which
lists every raw table with its folder and columns as Spark types. The listing is what lets Spark
declare a table no file was written for (a drop without billing/, an empty quarantine) and a column
no record carried, so staging compiles against one shape whatever the drop
(scripts/spark/build.py registers the tables from it).

Every landing is complete: the whole drop is landed into a fresh `<lake>.landing` folder, which then
replaces the lake. dlt merges only Delta or Iceberg tables on a filesystem (their Spark jars cannot be
installed offline here), and appending plain Parquet again would duplicate rows: landing afresh is
how running it twice gives the same lake. A failed landing leaves the previous lake untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LAKE_ENV = "ACCOUNT_HEALTH_LAKE_DIR"
MANIFEST = "lake_tables.json"
RAW_DATASETS = ("raw_product", "raw_stripe", "raw_crm")

# dlt data types -> Spark SQL types, as dlt's Parquet writer stores them (JSON as text: Spark has no
# JSON type; staging parses it with get_json_object through macros/cross_db).
_SPARK_TYPES = {
    "text": "string",
    "json": "string",
    "double": "double",
    "bool": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "time": "string",
    "binary": "binary",
    "wei": "decimal(38,0)",
}


def lake_dir(warehouse: Path | None = None, given: str | None = None) -> Path:
    """The lake folder: `given` (--lake-dir), ACCOUNT_HEALTH_LAKE_DIR, else `lake/` beside the
    warehouse file."""
    configured = given or os.environ.get(LAKE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    base = Path(warehouse).parent if warehouse else Path("warehouse")
    return (base / "lake").resolve()


def add_options(load_parser: Any) -> None:
    """The lake options of `account-health load`."""
    load_parser.add_argument(
        "--destination",
        choices=["duckdb", "lake"],
        default=os.environ.get("ACCOUNT_HEALTH_LOAD_DESTINATION", "duckdb"),
        help="duckdb: a candidate warehouse file (default); lake: Parquet files for Spark "
        "(env ACCOUNT_HEALTH_LOAD_DESTINATION)",
    )
    load_parser.add_argument(
        "--lake-dir", help=f"the lake folder (env {LAKE_ENV}; lake/ beside the warehouse file)"
    )


def spark_type(column: dict[str, Any]) -> str:
    """The Spark SQL type of a dlt column schema."""
    data_type = column.get("data_type")
    if data_type == "decimal":
        # dlt's default precision, which its Parquet writer uses when the column has none
        return f"decimal({column.get('precision') or 38},{column.get('scale') or 9})"
    if data_type == "bigint":
        precision = column.get("precision")
        return {8: "tinyint", 16: "smallint", 32: "int"}.get(precision, "bigint")
    if data_type not in _SPARK_TYPES:
        raise ValueError(f"no Spark type for dlt type {data_type!r} of column {column.get('name')!r}")
    return _SPARK_TYPES[data_type]


def _declared_tables(pipelines_dir: str) -> dict[str, dict[str, Any]]:
    """`{"raw_x.table": {"folder": "raw_x/table", "columns": {name: spark type}}}` from the dlt
    schemas of the pipelines that landed the drop, plus raw_stripe's required shape."""
    import dlt
    from dlt.common.schema.utils import is_complete_column

    from pipelines.sources.stripe import _expected_tables

    tables: dict[str, dict[str, Any]] = {}
    for name in sorted(os.listdir(pipelines_dir)):
        if not (Path(pipelines_dir) / name / "state.json").exists():
            continue
        pipeline = dlt.attach(name, pipelines_dir=pipelines_dir)
        if not pipeline.default_schema_name:  # a source with no file in the drop ran nothing
            continue
        dataset = pipeline.dataset_name
        for table in pipeline.default_schema.data_tables(include_incomplete=True):
            columns = {
                column_name: spark_type(column)
                for column_name, column in table["columns"].items()
                if is_complete_column(column)
            }
            tables[f"{dataset}.{table['name']}"] = {
                "folder": f"{dataset}/{table['name']}",
                "columns": columns,
            }
    # the tables and columns staging reads even when billing/ is absent or empty (what
    # stripe.ensure_raw_tables creates in a database)
    for table, columns in _expected_tables().items():
        entry = tables.setdefault(f"raw_stripe.{table}", {"folder": f"raw_stripe/{table}", "columns": {}})
        for column_name, data_type in columns.items():
            entry["columns"].setdefault(
                column_name, spark_type({"name": column_name, "data_type": data_type})
            )
    return dict(sorted(tables.items()))


def land_lake(source_dir: str | Path, lake: str | Path, progress: bool = True) -> dict[str, Any]:
    """Land the whole drop into a fresh lake and replace `lake` with it; return `load_drop`'s result
    with the listing of tables under "tables"."""
    from pipelines.load import load_drop

    lake = Path(lake).resolve()
    landing = lake.with_name(lake.name + ".landing")
    shutil.rmtree(landing, ignore_errors=True)
    # dlt warns on every merge table that a filesystem appends instead: expected here (see above)
    dlt_log = logging.getLogger("dlt")
    level = dlt_log.level
    dlt_log.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="lake-dlt-") as pipelines_dir:
            result = load_drop(
                source_dir, landing, destination="lake", progress=progress, pipelines_dir=pipelines_dir
            )
            tables = _declared_tables(pipelines_dir)
    finally:
        dlt_log.setLevel(level)
    (landing / MANIFEST).write_text(json.dumps(tables, indent=2) + "\n", encoding="utf-8")
    previous = lake.with_name(lake.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if lake.exists():
        lake.rename(previous)
    landing.rename(lake)
    shutil.rmtree(previous, ignore_errors=True)
    log.info("lake %s: %d raw tables", lake, len(tables))
    result["tables"] = tables
    return result


def read_manifest(lake: str | Path) -> dict[str, dict[str, Any]]:
    """The table listing of a landed lake; a clear error when the folder is not one."""
    path = Path(lake) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"{lake} is not a landed lake (no {MANIFEST}): run `account-health load --destination lake`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def cmd_load_lake(settings: Any, lake: Path) -> int:
    """`account-health load --destination lake`: check the drop's inputs, land it into the lake, under
    the warehouse's writer lock and in its run log like every other command."""
    from pipelines import cli
    from pipelines import publish as wap

    def body(record: Any, run_dir: Path) -> str:
        with record.step("inputs"):
            cli.step_inputs(settings, record)
        with record.step("load"):
            try:
                result = land_lake(settings.source_dir, lake, progress=settings.progress)
            except Exception as exc:
                log.exception("lake landing failed")
                raise wap.PublishError("load", f"{type(exc).__name__}: {exc}") from exc
            record.landed = {key: int(value) for key, value in result["rows"].items()}
            record.rows_landed = sum(record.landed.values())
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "load_info.json").write_text(
                json.dumps({**result, "lake": str(lake)}, indent=2, default=str), encoding="utf-8"
            )
        return "loaded"

    return cli._guarded("load", settings, body)
