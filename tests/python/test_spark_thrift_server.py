"""dbt through a Spark Thrift server (the `spark_thrift` output of profiles.yml), on a lake landed by dlt.

scripts/spark/thrift_server.py starts Spark's own Thrift server (HiveServer2 protocol, the jar the
pyspark wheel ships) over the lake, on 127.0.0.1; dbt-spark's `thrift` method (PyHive, in
requirements-spark.lock) builds the staging layer, the rejected records and their data tests through
it (the raw-rows reconciliation among them), and a PyHive client reads a raw table.

Not part of `make test` (another JVM and dbt run, minutes on 2 cores): `make test-spark-server` runs it
(ACCOUNT_HEALTH_TEST_SPARK_SERVER=1). Skipped when Java is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import time

import pytest
from dbt_support import REPO_ROOT, SPARK_VENV, cli_env, ensure_spark_venv

pytestmark = [pytest.mark.spark_server, pytest.mark.slow]


if os.environ.get("ACCOUNT_HEALTH_TEST_SPARK_SERVER") != "1":
    pytest.skip(
        "the Thrift server test runs in `make test-spark-server` (ACCOUNT_HEALTH_TEST_SPARK_SERVER=1)",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def thrift_server(tmp_path_factory):
    ensure_spark_venv()
    from pipelines.demo import generate
    from pipelines.lake import land_lake

    work = tmp_path_factory.mktemp("spark_thrift")
    generate(work / "drop", accounts=8, days=20, seed=3, end_date=dt.date(2026, 6, 30), progress=False)
    result = land_lake(work / "drop", work / "lake", progress=False)
    port = _free_port()
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [str(SPARK_VENV / "bin" / "python"), str(REPO_ROOT / "scripts" / "spark" / "thrift_server.py")]
        + ["--lake", str(work / "lake"), "--port", str(port), "--spark-dir", str(work / "spark")],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        line = ""
        while time.monotonic() < deadline and server.poll() is None:
            line = server.stdout.readline()
            if line.startswith("ready"):
                break
        assert line.startswith("ready"), (work / "server.log").read_text()[-3000:]
        yield work, port, result
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_a_client_reads_the_lake_through_the_thrift_server(thrift_server):
    work, port, result = thrift_server
    query = (
        "from pyhive import hive; import sys; "
        f"cur = hive.connect(host='127.0.0.1', port={port}, username='dbt').cursor(); "
        "cur.execute('select count(*) from raw_product.events'); print(cur.fetchall()[0][0])"
    )
    out = subprocess.run(
        [str(SPARK_VENV / "bin" / "python"), "-c", query], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == result["rows"]["raw_product.events"] > 0


def test_dbt_builds_staging_through_the_thrift_server(thrift_server):
    work, port, _ = thrift_server
    env = {
        **cli_env(),
        "ACCOUNT_HEALTH_TARGET": "spark_thrift",
        "SPARK_THRIFT_PORT": str(port),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    out = subprocess.run(
        [str(SPARK_VENV / "bin" / "dbt"), "build", "--profiles-dir", str(REPO_ROOT)]
        + [
            "--project-dir",
            str(REPO_ROOT),
            "--select",
            "staging",
            "rejected_records",
            "--exclude-resource-type",
            "unit_test",
        ]
        + ["--indirect-selection", "cautious"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    assert "ERROR=0" in out.stdout and "PASS=" in out.stdout
