"""Parity of the whole build on DuckDB and PostgreSQL (docs/PORTABILITY.md).

One small demo company (fixed seed, size and end date) is landed with dlt into a DuckDB file and
into a fresh PostgreSQL database, `dbt build` (models, seeds, unit and data tests) runs on both, and
every relation in the compared schemas is read back from both engines and compared row by row. The
relations are discovered from information_schema, so the test grows with the project: a model that
exists on one engine only fails it.

Equality: same columns, same number of rows, and after sorting, equal values. Numbers (integer,
decimal, double) are equal within REL_TOL relative (ABS_TOL absolute near zero), timestamps equal
after conversion to UTC, JSON values equal after parsing, everything else exactly equal.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DBT = str(Path(PYTHON).with_name("dbt"))

COMPARED_SCHEMAS = ("staging", "intermediate", "marts")
# Load bookkeeping differs between two loads by design (dlt's random row ids, the load's clock):
# these columns are not compared, and these keys are dropped from JSON payloads before comparing.
LOAD_METADATA = frozenset(
    {"loaded_at", "dlt_id", "dlt_load_id", "dlt_parent_id", "dlt_root_id"}
    | {"_loaded_at", "_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id"}
    # when the run that wrote the row started (macros/tests/rewritten_rows.sql)
    | {"_built_at"}
)
# The health chain's change-detection hashes (macros/cross_db/day_grain_incremental.sql): md5 of each
# engine's own text of the values (a double or a boolean prints differently), not data to compare.
ENGINE_FINGERPRINTS = frozenset({"input_fingerprint", "output_fingerprint"})
REL_TOL = 1e-9
ABS_TOL = 1e-9
# The demo company: small enough for a build of a few seconds per engine.
DEMO = {"accounts": 25, "days": 60, "seed": 7, "end_date": "2026-06-30"}

TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}


# --- value normalisation -------------------------------------------------------------------------
def _normalise(value):
    """A comparable form of one value read from either engine."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dict | list):
        return _canonical_json(value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _canonical_json(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _canonical_json(value) -> str:
    """JSON text with sorted keys, without load bookkeeping keys, and "" read as null.

    dlt lands an empty CSV field as '' on DuckDB but as NULL on PostgreSQL (its COPY path reads an
    unquoted empty field as NULL); staging nulls '' on both, so only raw payload copies differ.
    """
    if isinstance(value, dict):
        value = {
            key: (None if item == "" else item) for key, item in value.items() if key not in LOAD_METADATA
        }
    return json.dumps(value, sort_keys=True)


def _sort_key(row: tuple) -> tuple:
    """Order rows by every column; floats rounded so that a last-digit difference keeps the order."""
    key = []
    for value in row:
        if value is None:
            key.append((0, ""))
        elif isinstance(value, float):
            key.append((1, f"{value:.8e}" if math.isfinite(value) else str(value)))
        else:
            key.append((2, str(value)))
    return tuple(key)


def _equal(left, right) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return left == right


# --- reading both engines ------------------------------------------------------------------------
def _duckdb_relations(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    import duckdb

    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema in ?",
            [list(COMPARED_SCHEMAS)],
        ).fetchall()
        for schema, table in names:
            cursor = con.execute(f'select * from "{schema}"."{table}"')
            columns = [d[0] for d in cursor.description]
            out[f"{schema}.{table}"] = (columns, cursor.fetchall())
    return out


def _postgres_relations(pg_env: dict[str, str]) -> dict[str, tuple[list[str], list[tuple]]]:
    import psycopg2

    out = {}
    con = psycopg2.connect(
        host=pg_env["PGHOST"], port=pg_env["PGPORT"], user=pg_env["PGUSER"], dbname=pg_env["PGDATABASE"]
    )
    try:
        with con.cursor() as cursor:
            cursor.execute("set timezone = 'UTC'")
            cursor.execute(
                "select table_schema, table_name from information_schema.tables where table_schema in %s",
                (COMPARED_SCHEMAS,),
            )
            names = cursor.fetchall()
            for schema, table in names:
                cursor.execute(f'select * from "{schema}"."{table}"')
                columns = [d[0] for d in cursor.description]
                out[f"{schema}.{table}"] = (columns, cursor.fetchall())
    finally:
        con.close()
    return out


def compare_relation(
    name: str, duck: tuple[list[str], list[tuple]], pg: tuple[list[str], list[tuple]]
) -> list[str]:
    """Differences between one relation on both engines, as readable lines (empty = equal)."""
    duck_columns, duck_rows = duck
    pg_columns, pg_rows = pg
    if duck_columns != pg_columns:
        return [f"{name}: columns differ: duckdb {duck_columns} vs postgres {pg_columns}"]
    keep = [i for i, column in enumerate(duck_columns) if column not in LOAD_METADATA | ENGINE_FINGERPRINTS]
    duck_columns = [duck_columns[i] for i in keep]
    duck_rows = [tuple(row[i] for i in keep) for row in duck_rows]
    pg_rows = [tuple(row[i] for i in keep) for row in pg_rows]
    problems = []
    if len(duck_rows) != len(pg_rows):
        problems.append(f"{name}: {len(duck_rows)} rows on duckdb vs {len(pg_rows)} on postgres")
    left = sorted((tuple(_normalise(v) for v in row) for row in duck_rows), key=_sort_key)
    right = sorted((tuple(_normalise(v) for v in row) for row in pg_rows), key=_sort_key)
    for row_number, (duck_row, pg_row) in enumerate(zip(left, right, strict=False)):
        for column, duck_value, pg_value in zip(duck_columns, duck_row, pg_row, strict=True):
            if not _equal(duck_value, pg_value):
                problems.append(
                    f"{name}: sorted row {row_number} ({duck_columns[0]}={duck_row[0]!r}) column {column}: "
                    f"duckdb {duck_value!r} vs postgres {pg_value!r}"
                )
        if len(problems) >= 5:
            problems.append(f"{name}: ... (stopped after 5 differences)")
            break
    return problems


def test_compare_relation_finds_differences():
    """The comparison itself: tolerance, ordering, time zones and JSON text vs parsed JSON."""
    utc_noon = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    cet = dt.timezone(dt.timedelta(hours=1))
    duck = (
        ["id", "x", "at", "j"],
        [("b", 1.0, utc_noon.replace(tzinfo=None), '{"b": 1, "a": 2}'), ("a", 2, None, None)],
    )
    same = (
        ["id", "x", "at", "j"],
        [
            ("a", decimal.Decimal("2.0000000000001"), None, None),
            ("b", 1.0, utc_noon.astimezone(cet), {"a": 2, "b": 1}),
        ],
    )
    assert compare_relation("t", duck, same) == []
    off = (["id", "x", "at", "j"], [("a", 2.00001, None, None), ("b", 1.0, utc_noon, {"a": 2, "b": 1})])
    assert len(compare_relation("t", duck, off)) == 1
    fewer = (["id", "x", "at", "j"], [("a", 2, None, None)])
    assert "2 rows on duckdb vs 1 on postgres" in compare_relation("t", duck, fewer)[0]
    # load bookkeeping (dlt ids, load time) is ignored, in columns and inside JSON payloads
    with_meta = (["id", "_dlt_id"], [("a", "x1")])
    assert compare_relation("t", with_meta, (["id", "_dlt_id"], [("a", "y2")])) == []
    payload = (["p"], [('{"_loaded_at": "2026-01-01 00:00:00+00", "s": ""}',)])
    assert (
        compare_relation("t", payload, (["p"], [({"_loaded_at": "2026-01-01T00:00:00+00:00", "s": None},)]))
        == []
    )
    renamed = (["id", "y", "at", "j"], same[1])
    assert "columns differ" in compare_relation("t", duck, renamed)[0]


# --- the build on both engines -------------------------------------------------------------------
def _run_all(
    commands: dict[str, tuple[list[str], dict[str, str]]], log_dir: Path, timeout: int
) -> dict[str, str]:
    """Run the commands concurrently; return {label: tail of its log} for those that failed."""
    procs = {}
    for label, (argv, env) in commands.items():
        log_file = open(log_dir / f"{label}.log", "w")  # noqa: SIM115 - closed below
        procs[label] = (
            subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT),
            log_file,
        )
    failed = {}
    for label, (proc, log_file) in procs.items():
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "timeout"
        log_file.close()
        if code != 0:
            tail = (log_dir / f"{label}.log").read_text().splitlines()[-40:]
            failed[label] = f"--- {label} exited {code}:\n" + "\n".join(tail)
    return failed


def _run_all_or_fail(
    commands: dict[str, tuple[list[str], dict[str, str]]], log_dir: Path, timeout: int
) -> None:
    failed = _run_all(commands, log_dir, timeout)
    if failed:
        pytest.fail("\n".join(failed.values()))


@pytest.fixture(scope="module")
def parity_database(postgres_server):
    """A fresh database on the test server for this module; dropped afterwards."""
    import psycopg2

    name = f"account_health_parity_{os.getpid()}"
    admin = psycopg2.connect(
        host=postgres_server["PGHOST"],
        port=postgres_server["PGPORT"],
        user=postgres_server["PGUSER"],
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'drop database if exists "{name}"')
        cursor.execute(f'create database "{name}"')
    try:
        yield {**postgres_server, "PGDATABASE": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture(scope="module")
def both_builds(tmp_path_factory, parity_database):
    """Generate the demo company, land it on both engines and `dbt build` on both (concurrently)."""
    work = tmp_path_factory.mktemp("portability_postgres")
    drop = work / "drop"
    warehouse = work / "wh.duckdb"
    base_env = {**os.environ, **TELEMETRY_OFF, "DBT_PROFILES_DIR": str(REPO_ROOT)}
    for key in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        base_env.pop(key, None)

    generate = (
        "import sys, datetime as dt; from pipelines.demo import generate; "
        f"generate({str(drop)!r}, accounts={DEMO['accounts']}, days={DEMO['days']}, seed={DEMO['seed']}, "
        f"end_date=dt.date.fromisoformat({DEMO['end_date']!r}))"
    )
    _run_all_or_fail({"generate": ([PYTHON, "-c", generate], base_env)}, work, timeout=120)

    def load(destination: str) -> str:
        return (
            "import logging; logging.basicConfig(level=logging.WARNING); "
            "from pipelines.load import load_drop; "
            f"load_drop({str(drop)!r}, {str(warehouse)!r}, destination={destination!r}, progress=False, "
            f"pipelines_dir={str(work / ('dlt_' + destination))!r})"
        )

    duck_env = {**base_env, "ACCOUNT_HEALTH_TARGET": "duckdb", "ACCOUNT_HEALTH_BUILD_DB": str(warehouse)}
    pg_env = {**base_env, **parity_database, "ACCOUNT_HEALTH_TARGET": "postgres"}
    _run_all_or_fail(
        {
            "load_duckdb": ([PYTHON, "-c", load("duckdb")], duck_env),
            "load_postgres": ([PYTHON, "-c", load("postgres")], pg_env),
        },
        work,
        timeout=300,
    )
    builds = {}
    for label, env in (("duckdb", duck_env), ("postgres", pg_env)):
        env = {
            **env,
            "DBT_TARGET_PATH": str(work / f"target_{label}"),
            "DBT_LOG_PATH": str(work / f"logs_{label}"),
        }
        # Models and data tests first (unit tests of incremental models need their relation), then
        # the unit tests on their own, so a unit test comparing numbers as text cannot hide the data.
        builds[f"build_{label}"] = (
            [DBT, "build", "--no-partial-parse", "--exclude-resource-type", "unit_test"],
            env,
        )
    # A failing model or test does not stop the comparison of what was built: the build result is
    # asserted by its own test below.
    failed_builds = _run_all(builds, work, timeout=900)
    # on PostgreSQL only: test_dbt_unit_tests.py runs them on DuckDB
    unit_env = {
        **pg_env,
        "DBT_TARGET_PATH": str(work / "target_postgres"),
        "DBT_LOG_PATH": str(work / "logs_postgres"),
    }
    unit_runs = {"unit_tests_postgres": ([DBT, "test", "--select", "test_type:unit"], unit_env)}
    failed_unit_tests = _run_all(unit_runs, work, timeout=900)
    return warehouse, parity_database, failed_builds, failed_unit_tests


def test_dbt_build_passes_on_duckdb_and_postgres(both_builds):
    """Every seed, model and data test passes on both engines."""
    _, _, failed_builds, _ = both_builds
    assert not failed_builds, "\n".join(failed_builds.values())


def test_unit_tests_pass_on_postgres(both_builds):
    _, _, _, failed_unit_tests = both_builds
    assert "unit_tests_postgres" not in failed_unit_tests, failed_unit_tests.get("unit_tests_postgres")


def test_every_relation_is_equal_on_duckdb_and_postgres(both_builds):
    warehouse, pg_env, _, _ = both_builds
    duck = _duckdb_relations(warehouse)
    pg = _postgres_relations(pg_env)
    assert duck, "no relations built on DuckDB"
    problems = []
    only_duck = sorted(set(duck) - set(pg))
    only_pg = sorted(set(pg) - set(duck))
    if only_duck or only_pg:
        problems.append(f"relations only on duckdb: {only_duck}; only on postgres: {only_pg}")
    for name in sorted(set(duck) & set(pg)):
        problems += compare_relation(name, duck[name], pg[name])
    compared = sorted(set(duck) & set(pg))
    assert not problems, f"{len(problems)} difference(s) over {len(compared)} relations:\n" + "\n".join(
        problems
    )


def test_every_table_built_or_landed_on_postgres_has_statistics(both_builds):
    """The loader analyzes the raw tables dlt copied in and a post-hook each table and seed dbt
    wrote (macros/cross_db/postgres_planner.sql): a first build otherwise plans blind."""
    import psycopg2

    warehouse, pg_env, _, _ = both_builds
    manifest = json.loads((warehouse.parent / "target_postgres" / "manifest.json").read_text())
    written = {
        f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node["config"]["materialized"] in ("table", "incremental", "seed")
    }
    con = psycopg2.connect(
        host=pg_env["PGHOST"], port=pg_env["PGPORT"], user=pg_env["PGUSER"], dbname=pg_env["PGDATABASE"]
    )
    try:
        with con.cursor() as cursor:
            # dlt's own tables and its merge staging schemas are not read by dbt
            cursor.execute(
                "select schemaname || '.' || relname, last_analyze from pg_stat_user_tables "
                "where schemaname like 'raw%%' and schemaname not like '%%staging' "
                "and relname not like '_dlt%%'"
            )
            raw = dict(cursor.fetchall())
            cursor.execute("select schemaname || '.' || relname, last_analyze from pg_stat_user_tables")
            built = {name: analyzed for name, analyzed in cursor.fetchall() if name in written}
    finally:
        con.close()
    assert {"raw_product.events", "raw_stripe.prices", "raw_crm.accounts"} <= set(raw), sorted(raw)
    assert set(built) == written, f"built tables not found: {sorted(written - set(built))}"
    never = sorted(name for name, analyzed in {**raw, **built}.items() if analyzed is None)
    assert not never, f"tables without statistics: {never}"
