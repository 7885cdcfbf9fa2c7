"""Serve a landed lake over a local Spark Thrift server (HiveServer2 protocol) for dbt's `thrift` method.

Run with .venv-spark. One Spark session (the settings of scripts/spark/build.py) declares the lake's
raw tables, then Spark's own Thrift server (the spark-hive-thriftserver jar that the pyspark wheel
ships) starts inside it, on 127.0.0.1 only, sharing its catalog: a client sees the raw tables, and
what dbt builds through the server stays in this session until it stops.

    python scripts/spark/thrift_server.py --lake DIR [--port 10000] [--spark-dir DIR]

Prints `ready <port>` on stdout when clients can connect; stops on SIGTERM or Ctrl-C.
Then: ACCOUNT_HEALTH_TARGET=spark_thrift SPARK_THRIFT_PORT=<port> dbt build (dbt-spark[PyHive]).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from build import read_manifest, register_lake_tables, spark_session

log = logging.getLogger("spark_thrift")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="the lake landed by pipelines/lake.py")
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument(
        "--spark-dir",
        type=Path,
        default=Path(os.environ.get("ACCOUNT_HEALTH_SPARK_DIR", "/tmp/account_health_spark_thrift")),
        help="table files written through the server (deleted and recreated)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    lake, spark_dir = args.lake.resolve(), args.spark_dir.resolve()
    shutil.rmtree(spark_dir, ignore_errors=True)
    spark_dir.mkdir(parents=True)
    os.chdir(spark_dir)

    tables = read_manifest(lake)
    spark = spark_session(
        spark_dir,
        {
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
            "spark.hadoop.hive.server2.thrift.port": str(args.port),
            # one session for every connection: dbt's threads see each other's temporary views
            "spark.sql.hive.thriftServer.singleSession": "true",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    register_lake_tables(spark, lake, tables, spark_dir / "empty_raw_tables")

    server = spark._jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    server.startWithContext(spark._jsparkSession.sqlContext())
    print(f"ready {args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    log.info("stopping")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
