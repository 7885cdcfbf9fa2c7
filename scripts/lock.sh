#!/usr/bin/env bash
# Regenerate the hashed pins from pyproject.toml (`make lock`):
#   requirements.lock        the main environment (.venv): dependencies + the dev extra
#   requirements-spark.lock  the Spark environment (.venv-spark): the spark extra, every package it
#                            shares with the main environment at the main lock's version
# uv resolves for Python 3.11 on x86_64 Linux whatever machine runs it, and keeps every version an
# existing lock already pins unless pyproject.toml's ranges exclude it (pass --upgrade to move on),
# so a rerun without a pyproject.toml change gives the same files. Extras stay on the pins
# (`mashumaro[msgpack]==...`): pip's --require-hashes mode refuses an extra it finds unpinned.
#
#   scripts/lock.sh [--upgrade | --upgrade-package NAME ...]
set -euo pipefail

cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"
if [[ ! -x "$UV" ]]; then
    echo "lock.sh: $UV is missing: 'make venv' installs it (dev extra)" >&2
    exit 1
fi
common=(--quiet --no-config --generate-hashes --no-strip-extras --python-version 3.11
        --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" "$@")

"$UV" pip compile "${common[@]}" pyproject.toml --extra dev -o requirements.lock

# The spark extra alone (not the project's own dependencies: Spark needs neither Streamlit nor GX).
spark_in="$(mktemp -d)/spark.in"
trap 'rm -rf "$(dirname "$spark_in")"' EXIT
python3 -c '
import sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
print("\n".join(extras["spark"]))' >"$spark_in"
"$UV" pip compile "${common[@]}" --no-annotate "$spark_in" -c requirements.lock -o requirements-spark.lock
echo "lock.sh: wrote requirements.lock ($(grep -c '==' requirements.lock) pins)," \
     "requirements-spark.lock ($(grep -c '==' requirements-spark.lock) pins)" >&2
