"""One measured step of the benchmark ladder, run in its own process by benchmarks.run.

    python -m benchmarks.steps STEP ARGS_JSON RESULT_JSON

Each step does its work, times the work itself (after imports) with `time.perf_counter`, and writes
a JSON result. The parent reads the process's peak RSS from `os.wait4`, so the memory of one step
never hides behind another's.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.config import disable_telemetry

disable_telemetry()

REPO_ROOT = Path(__file__).resolve().parent.parent
FLOOR_SQL = Path(__file__).resolve().parent / "floor.sql"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def step_generate(args: dict) -> dict:
    from pipelines.demo import generate

    started, cpu = time.perf_counter(), _cpu()
    manifest = generate(
        args["out"],
        accounts=args["accounts"],
        days=args["days"],
        seed=args["seed"],
        end_date=args["end_date"],
        fmt="parquet",
        progress=False,
    )
    seconds, cpu_seconds = time.perf_counter() - started, _cpu() - cpu
    events = manifest["row_counts"]["product/events/lines"]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "events": events,
        "messages": manifest["row_counts"]["product/events/messages"],
        "users": manifest["users"],
        "events_per_second": events / seconds,
        "events_per_cpu_second": events / max(cpu_seconds, 1e-9),
    }


def step_land_dlt(args: dict) -> dict:
    import logging

    from pipelines.load import load_drop

    logging.basicConfig(level=logging.WARNING)
    started, cpu = time.perf_counter(), _cpu()
    result = load_drop(args["source_dir"], args["db"], progress=False, pipelines_dir=args["pipelines_dir"])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        # CPU of all threads: less sensitive to a loaded machine than wall time
        "cpu_seconds": _cpu() - cpu,
        "rows": result["rows"],
        "files_loaded": len(result["files_loaded"]),
    }


def step_land_native(args: dict) -> dict:
    """DuckDB's own read of the same event files into a table: the landing floor."""
    import duckdb

    started, cpu = time.perf_counter(), _cpu()
    con = duckdb.connect(args["db"])
    con.execute("create schema if not exists native")
    con.execute(
        "create or replace table native.events as select * from read_parquet(?)", [args["events_glob"]]
    )
    rows = con.execute("select count(*) from native.events").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu, "rows": rows}


def step_land_native_landed(args: dict) -> dict:
    """DuckDB alone writing what the landing writes: the same event files parsed by the landing's
    own SQL (pipelines.sources.product.EventParse: text fields, payload hash, duplicate check) into
    the two landed tables with the same columns (`events`: the stored copies, `event_deliveries`:
    every delivery), without dlt. The landing floor for the same output; `land_native` is the
    floor for reading the files into one table as they are."""
    from datetime import UTC, datetime

    from pipelines.sources._files import discover
    from pipelines.sources.product import DELIVERY_COLUMNS, EVENT_COLUMNS, EventParse

    started, cpu = time.perf_counter(), _cpu()
    files = discover(Path(args["source_dir"]), "product/events", ["*.parquet", "*.jsonl", "*.jsonl.gz"])
    with EventParse(files, datetime.now(UTC)) as parse:
        parse.exclude_stored()
        con = parse.con
        con.register("losers", parse._losers)
        con.execute(f"attach '{args['db']}' as native_landed")
        con.execute("create schema if not exists native_landed.native")
        # one parse into a temporary table, then the two landed tables from it
        con.execute(f"create temp table delivered as {parse.deliveries_sql()}")
        con.execute(
            f"create or replace table native_landed.native.events as "
            f"select {', '.join(EVENT_COLUMNS)} from delivered where _is_stored_copy"
        )
        con.execute(
            f"create or replace table native_landed.native.event_deliveries as "
            f"select {', '.join(DELIVERY_COLUMNS)} from delivered"
        )
        rows = {
            table: con.execute(f"select count(*) from native_landed.native.{table}").fetchone()[0]
            for table in ("events", "event_deliveries")
        }
        con.execute("drop table delivered")
        con.execute("detach native_landed")
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu, "rows": rows}


def _model_timings(run_results: Path, top: int = 15) -> list[dict]:
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text())["results"]
    rows = [
        {
            "unique_id": r["unique_id"],
            "status": r["status"],
            "seconds": round(r.get("execution_time") or 0.0, 3),
        }
        for r in results
    ]
    return sorted(rows, key=lambda r: r["seconds"], reverse=True)[:top]


def step_dbt(args: dict) -> dict:
    """The in-process dbt command the CLI's build step runs (pipelines.dbt_runner.invoke)."""
    import_started = time.perf_counter()
    from pipelines import dbt_runner

    started = time.perf_counter()
    artifacts = Path(args["artifacts_dir"])
    outcome = dbt_runner.invoke(
        args["command"],
        project_dir=REPO_ROOT,
        build_db=Path(args["db"]),
        target_dir=Path(args["target_dir"]),
        log_dir=artifacts,
        artifacts_dir=artifacts,
    )
    seconds = time.perf_counter() - started
    stem = args["command"][0]
    run_results = artifacts / f"{stem}_run_results.json"
    return {
        "seconds": seconds,
        "import_seconds": started - import_started,
        "success": outcome.success,
        "counts": outcome.counts,
        "failures": outcome.failures[:20],
        "exception": outcome.exception,
        "slowest_nodes": _model_timings(run_results),
        "node_seconds_total": round(
            sum(r.get("execution_time") or 0.0 for r in json.loads(run_results.read_text())["results"]), 3
        )
        if run_results.exists()
        else None,
    }


def step_floor(args: dict) -> dict:
    """The floor script on `db` (a copy: it writes schema bench_floor). The ladder runs it without a
    cap; `memory_limit` (e.g. "640MB") runs it under the build's kind of cap instead, by hand:
    `python -m benchmarks.steps floor '{"db": "copy.duckdb", "memory_limit": "640MB"}' out.json`
    from the repo root (benchmarks/results/NOTES.md, session 8)."""
    import duckdb

    sql = FLOOR_SQL.read_text(encoding="utf-8")
    config = {}
    if args.get("memory_limit"):
        config = {"memory_limit": args["memory_limit"], "preserve_insertion_order": "false"}
    started = time.perf_counter()
    con = duckdb.connect(args["db"], config=config)
    con.execute(sql)
    rows = {
        table: con.execute(f"select count(*) from bench_floor.{table}").fetchone()[0]
        for table in ("resolved", "account_days", "usage_scored")
    }
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def step_compare_marts(args: dict) -> dict:
    """Every table of schema marts in `db` against the same table in `reference`: rows and differences."""
    import duckdb

    con = duckdb.connect(args["db"], read_only=True)
    con.execute(f"attach '{args['reference']}' as reference (read_only)")
    mine = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = 'marts'"
        ).fetchall()
    }
    theirs = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'reference' and table_schema = 'marts'"
        ).fetchall()
    }
    tables: dict[str, Any] = {}
    for table in sorted(mine & theirs):
        rows = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
        mine_sql, theirs_sql = f"select * from marts.{table}", f"select * from reference.marts.{table}"
        only_mine = con.execute(f"select count(*) from ({mine_sql} except all {theirs_sql})").fetchone()[0]
        only_theirs = con.execute(f"select count(*) from ({theirs_sql} except all {mine_sql})").fetchone()[0]
        tables[table] = {"rows": rows, "only_incremental": only_mine, "only_full_refresh": only_theirs}
    con.close()
    equal = (
        bool(tables)
        and mine == theirs
        and all(t["only_incremental"] == 0 and t["only_full_refresh"] == 0 for t in tables.values())
    )
    return {
        "marts_equal": equal,
        "tables": tables,
        "missing_in_incremental": sorted(theirs - mine),
        "missing_in_full_refresh": sorted(mine - theirs),
    }


def step_account_detail(args: dict) -> dict:
    """p50/p95 of reports.data.account_detail over distinct random accounts, warm (see run.py)."""
    import logging
    import random
    import statistics

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    os.environ["ACCOUNT_HEALTH_WAREHOUSE"] = args["db"]
    from reports import data

    accounts = data.account_choices()["account_id"].tolist()
    picked = random.Random(args["seed"]).sample(accounts, min(args["calls"], len(accounts)))
    # Warm: modules imported, the file in the OS cache, the app's read-only view of the file open
    # (reports.data keeps one per file stamp, as the running app does), DuckDB's code paths run once;
    # then the result cache is cleared so every timed call runs its queries (on that view).
    for account_id in picked[: min(10, len(picked))]:
        data.account_detail(account_id)
    data.clear_cache()

    def timed(ids: list[str]) -> list[float]:
        out = []
        for account_id in ids:
            started = time.perf_counter()
            frames = data.account_detail(account_id)
            out.append((time.perf_counter() - started) * 1000)
            assert frames["account"] is not None and len(frames["account"]) == 1, account_id
        return out

    uncached = timed(picked)
    cached = timed(picked)  # the same accounts again: st.cache_data hits

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return {
        "calls": len(picked),
        "p50_ms": round(statistics.median(uncached), 2),
        "p95_ms": round(pct(uncached, 0.95), 2),
        "max_ms": round(max(uncached), 2),
        "cached_p50_ms": round(statistics.median(cached), 3),
        "cached_p95_ms": round(pct(cached, 0.95), 3),
    }


STEPS = {
    "generate": step_generate,
    "land_dlt": step_land_dlt,
    "land_native": step_land_native,
    "land_native_landed": step_land_native_landed,
    "dbt": step_dbt,
    "floor": step_floor,
    "compare_marts": step_compare_marts,
    "account_detail": step_account_detail,
}


def main(argv: list[str]) -> int:
    name, args_json, result_path = argv
    result = STEPS[name](json.loads(args_json))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["children_max_rss_kb"] = children
    Path(result_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
