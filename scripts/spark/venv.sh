#!/usr/bin/env bash
# Create or update the Spark virtual environment from the hashed pins of requirements-spark.lock.
#
#   scripts/spark/venv.sh            (SPARK_VENV, default .venv-spark; PYTHON, default python3.11)
#
# Kept apart from .venv (pyspark is ~450 MB). The stamp file holds the lock's SHA-256: an
# environment installed from another lock (an older pyspark) is brought to the pinned set.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3.11}"
SPARK_VENV="${SPARK_VENV:-.venv-spark}"
LOCK=requirements-spark.lock
stamp="$SPARK_VENV/.installed"
want="$(sha256sum "$LOCK" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$SPARK_VENV/bin/dbt" ]]; then
    exit 0
fi
echo "spark/venv.sh: installing $LOCK into $SPARK_VENV (a few minutes the first time, ~450 MB)" >&2
test -x "$SPARK_VENV/bin/python" || "$PYTHON" -m venv "$SPARK_VENV"
"$SPARK_VENV/bin/python" -m pip install --quiet --quiet --require-hashes -r "$LOCK"
echo "$want" >"$stamp"
