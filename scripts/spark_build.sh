#!/usr/bin/env bash
# Build the whole dbt project on local Spark (pyspark session mode) from a small demo company.
#
#   scripts/spark_build.sh [dbt args...]     default dbt args: build
#
# Steps (docs/PORTABILITY.md): create .venv-spark with the optional extra when missing (it adds
# ~450 MB of pyspark, so it is kept out of .venv), generate the demo company, land it with dlt into
# a DuckDB file (dlt has no Spark destination), then scripts/spark/build.py exports the raw tables
# to Parquet, registers them in Spark and runs dbt on the `spark` target in the same session.
#
# Settings (environment):
#   SPARK_VENV                 virtual environment with dbt-spark       (default .venv-spark)
#   ACCOUNT_HEALTH_SPARK_WORK  work folder, recreated on every run      (default /tmp/account_health_spark_build)
#   SPARK_DEMO_ACCOUNTS / SPARK_DEMO_DAYS / SPARK_DEMO_SEED / SPARK_DEMO_END_DATE   the demo company
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3.11}"
MAIN_VENV="${VENV:-.venv}"
SPARK_VENV="${SPARK_VENV:-.venv-spark}"
WORK="${ACCOUNT_HEALTH_SPARK_WORK:-/tmp/account_health_spark_build}"
# The tiny demo size (20 accounts x 40 days): a full `dbt build` with every data test took
# 18.5 minutes on Spark on a loaded 2-core machine (docs/PORTABILITY.md, Status).
ACCOUNTS="${SPARK_DEMO_ACCOUNTS:-20}"
DAYS="${SPARK_DEMO_DAYS:-40}"
SEED="${SPARK_DEMO_SEED:-7}"
END_DATE="${SPARK_DEMO_END_DATE:-2026-06-30}"

export DO_NOT_TRACK=1 RUNTIME__DLTHUB_TELEMETRY=false GX_ANALYTICS_ENABLED=False
export DBT_SEND_ANONYMOUS_USAGE_STATS=false SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"

log() { echo "spark_build.sh: $*" >&2; }

# Java 17 (pyspark 4 needs 17 or newer).
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
if ! command -v java >/dev/null 2>&1 || [[ "$(java_major)" -lt 17 ]]; then
    if [[ "$(id -u)" == "0" ]]; then
        log "installing Java 17 (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >&2
    else
        log "Java 17 or newer is required (Debian: openjdk-17-jre-headless)"
        exit 1
    fi
fi

if [[ ! -x "$SPARK_VENV/bin/dbt" ]]; then
    log "creating $SPARK_VENV with dbt-spark[session] (a few minutes, ~450 MB)"
    "$PYTHON" -m venv "$SPARK_VENV"
    # Same dbt-core, duckdb and pyarrow as the main environment.
    "$SPARK_VENV/bin/python" -m pip install --quiet -c requirements.lock \
        "dbt-spark[session]==1.11.0" dbt-core duckdb pyarrow
fi
if [[ ! -x "$MAIN_VENV/bin/python" ]]; then
    log "the main environment $MAIN_VENV is missing: run 'make venv' first"
    exit 1
fi

rm -rf "$WORK"
mkdir -p "$WORK"
log "generating the demo company ($ACCOUNTS accounts x $DAYS days, seed $SEED, ending $END_DATE)"
"$MAIN_VENV/bin/python" -m pipelines.demo --out "$WORK/drop" --accounts "$ACCOUNTS" --days "$DAYS" \
    --seed "$SEED" --end-date "$END_DATE" --no-progress >/dev/null
log "landing it into $WORK/raw.duckdb (dlt)"
"$MAIN_VENV/bin/python" -c "
import logging, sys
logging.basicConfig(level=logging.WARNING)
from pipelines.load import load_drop
load_drop(sys.argv[1], sys.argv[2], destination='duckdb', progress=False, pipelines_dir=sys.argv[3])
" "$WORK/drop" "$WORK/raw.duckdb" "$WORK/dlt"

log "building on Spark"
exec "$SPARK_VENV/bin/python" scripts/spark/build.py --warehouse "$WORK/raw.duckdb" \
    --spark-dir "$WORK/spark" -- "${@:-build}"
