# Account Health Warehouse — `make help` lists the targets.
# Every target creates the virtual environment when it is missing and is safe to run again.

PYTHON      ?= python3.11
VENV        ?= .venv
BIN         := $(VENV)/bin
SOURCE_DIR  ?= data/landing
WAREHOUSE   ?= warehouse/health.duckdb
# connectors to pull from before loading (docs/CONNECTORS.md), e.g. SOURCES=stripe,hubspot
SOURCES     ?= files
SIZE        ?= small
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (one test file per worker: module fixtures are built once;
# three on two cores measured slower: 20:34 against 19:31). --no-loadscope-reorder keeps the order
# of tests/python/conftest.py (longest modules first) instead of xdist's (most tests first).
PYTEST_WORKERS ?= 2

# No network at run time: telemetry of dbt, dlt, great-expectations and Streamlit off.
export DO_NOT_TRACK := 1
export RUNTIME__DLTHUB_TELEMETRY := false
export GX_ANALYTICS_ENABLED := False
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_PROFILES_DIR := $(CURDIR)
export ACCOUNT_HEALTH_SOURCE_DIR := $(SOURCE_DIR)
export ACCOUNT_HEALTH_WAREHOUSE := $(WAREHOUSE)

STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lock run demo load build publish app docs test test-postgres test-spark test-spark-server bench lint format clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# Every package from the hashed pins (pip refuses any file whose hash differs), then the project
# itself without resolving again.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment (.venv) from the hashed pins of requirements.lock

lock: ## Regenerate requirements.lock and requirements-spark.lock (hashed pins) from pyproject.toml with uv
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet "uv>=0.13,<0.14"; }
	UV=$(BIN)/uv bash scripts/lock.sh

run: $(STAMP) ## Load, build, audit, publish, print a summary (the demo company first when data/landing is empty and nothing is published)
	$(BIN)/account-health run --source "$(SOURCES)" --source-dir "$(SOURCE_DIR)" --warehouse "$(WAREHOUSE)"

demo: $(STAMP) ## Only generate the demo company's file drop into SOURCE_DIR
	$(BIN)/account-health demo --source-dir "$(SOURCE_DIR)"

load: $(STAMP) ## Only land the file drop (dlt) into a candidate warehouse
	$(BIN)/account-health load --source "$(SOURCES)" --source-dir "$(SOURCE_DIR)" --warehouse "$(WAREHOUSE)"

build: $(STAMP) ## Only run `dbt build` (all models and tests) on the candidate warehouse
	$(BIN)/account-health build --warehouse "$(WAREHOUSE)"

publish: $(STAMP) ## Audit the candidate and publish it atomically
	$(BIN)/account-health publish --warehouse "$(WAREHOUSE)"

app: $(STAMP) ## Start the reporting app on http://127.0.0.1:8501 (read-only on the published warehouse)
	$(BIN)/account-health app --warehouse "$(WAREHOUSE)"

docs: $(STAMP) ## Generate dbt docs into target/ (open target/index.html)
	ACCOUNT_HEALTH_BUILD_DB="$(WAREHOUSE)" $(BIN)/dbt docs generate

test: $(STAMP) ## Run every test: pytest (pipelines, dbt build with unit and data tests, CLI, app, PostgreSQL)
	bash scripts/postgres.sh start
	set -a; eval "$$(bash scripts/postgres.sh env)"; set +a; \
	  $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); status=$$?; \
	  bash scripts/postgres.sh stop; exit $$status

test-postgres: $(STAMP) ## Build on a local PostgreSQL server and compare its marts with DuckDB's
	bash scripts/postgres.sh start
	set -a; eval "$$(bash scripts/postgres.sh env)"; set +a; \
	  $(BIN)/python -m pytest -m postgres $(PYTEST_ARGS); status=$$?; \
	  bash scripts/postgres.sh stop; exit $$status

test-spark: $(STAMP) ## Build the project on local Spark from a dlt lake (session mode; creates .venv-spark; Java 17)
	bash scripts/spark_build.sh

test-spark-server: $(STAMP) ## dbt through a local Spark Thrift server over a dlt lake (spark_thrift target)
	ACCOUNT_HEALTH_TEST_SPARK_SERVER=1 $(BIN)/python -m pytest -m spark_server $(PYTEST_ARGS)

bench: $(STAMP) ## Benchmark ladder (SIZE=small|medium|large|all); results in benchmarks/results/
	$(BIN)/python -m benchmarks.run --size "$(SIZE)"

lint: $(STAMP) ## ruff (Python) and sqlfluff with the dbt templater (SQL)
	$(BIN)/ruff check pipelines reports tests benchmarks examples
	$(BIN)/ruff format --check pipelines reports tests benchmarks examples
	ACCOUNT_HEALTH_BUILD_DB=$$(mktemp -d)/lint.duckdb $(BIN)/sqlfluff lint models tests analyses

format: $(STAMP) ## Apply ruff's formatter and fixes
	$(BIN)/ruff check --fix pipelines reports tests benchmarks examples
	$(BIN)/ruff format pipelines reports tests benchmarks examples

clean: ## Remove build output, generated data and the local warehouse (keeps .venv)
	rm -rf target logs dbt_packages test-artifacts data warehouse/*.duckdb warehouse/*.wal warehouse/runs
