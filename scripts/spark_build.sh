#!/usr/bin/env bash
# Build the whole dbt project on local Spark (pyspark session mode) from a small demo company.
#
#   scripts/spark_build.sh [dbt args...]     default dbt args: build
#
# Steps (docs/PORTABILITY.md): create .venv-spark from requirements-spark.lock when missing or stale
# (scripts/spark/venv.sh), generate the demo company, land it as a lake of Parquet files with dlt
# (`account-health load --destination lake`), then scripts/spark/build.py declares the lake's tables
# in Spark and runs dbt on the `spark` target in the same session.
#
# Settings (environment):
#   SPARK_VENV                 virtual environment with dbt-spark       (default .venv-spark)
#   ACCOUNT_HEALTH_SPARK_WORK  work folder, recreated on every run      (default /tmp/account_health_spark_build)
#   SPARK_DEMO_ACCOUNTS / SPARK_DEMO_DAYS / SPARK_DEMO_SEED / SPARK_DEMO_END_DATE   the demo company
set -euo pipefail

cd "$(dirname "$0")/.."
MAIN_VENV="${VENV:-.venv}"
SPARK_VENV="${SPARK_VENV:-.venv-spark}"
WORK="${ACCOUNT_HEALTH_SPARK_WORK:-/tmp/account_health_spark_build}"
# The tiny demo size (20 accounts x 40 days): a full `dbt build` with every unit and data test
# takes 10-20 minutes on Spark on a loaded 2-core machine (docs/PORTABILITY.md, Status).
ACCOUNTS="${SPARK_DEMO_ACCOUNTS:-20}"
DAYS="${SPARK_DEMO_DAYS:-40}"
SEED="${SPARK_DEMO_SEED:-7}"
END_DATE="${SPARK_DEMO_END_DATE:-2026-06-30}"

export DO_NOT_TRACK=1 RUNTIME__DLTHUB_TELEMETRY=false GX_ANALYTICS_ENABLED=False
export DBT_SEND_ANONYMOUS_USAGE_STATS=false SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"

log() { echo "spark_build.sh: $*" >&2; }

# Java 17: what the pinned pyspark (4.1) is tested with here; Spark 4 supports 17 and 21 only.
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
if ! command -v java >/dev/null 2>&1; then
    if [[ "$(id -u)" == "0" ]]; then
        log "installing Java 17 (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >&2
    else
        log "Java 17 is required (Debian: openjdk-17-jre-headless)"
        exit 1
    fi
fi
case "$(java_major)" in
    17 | 21) ;;
    *) log "Java $(java_major) found; Spark 4 needs Java 17 (or 21): set JAVA_HOME or PATH"; exit 1 ;;
esac

if [[ ! -x "$MAIN_VENV/bin/python" ]]; then
    log "the main environment $MAIN_VENV is missing: run 'make venv' first"
    exit 1
fi
SPARK_VENV="$SPARK_VENV" bash scripts/spark/venv.sh

rm -rf "$WORK"
mkdir -p "$WORK"
log "generating the demo company ($ACCOUNTS accounts x $DAYS days, seed $SEED, ending $END_DATE)"
"$MAIN_VENV/bin/python" -m pipelines.demo --out "$WORK/drop" --accounts "$ACCOUNTS" --days "$DAYS" \
    --seed "$SEED" --end-date "$END_DATE" --no-progress >/dev/null
log "landing it into the lake $WORK/lake (dlt, Parquet)"
"$MAIN_VENV/bin/python" -m pipelines.cli load --source-dir "$WORK/drop" \
    --warehouse "$WORK/warehouse/health.duckdb" --destination lake --lake-dir "$WORK/lake" >/dev/null

log "building on Spark"
exec "$SPARK_VENV/bin/python" scripts/spark/build.py --lake "$WORK/lake" \
    --spark-dir "$WORK/spark" -- "${@:-build}"
