"""The benchmark ladder (issue 9): `python -m benchmarks.run --size tiny|small|medium|large|all`.

For one size it generates the demo company (Parquet events, CONTRACT 1a) with the last day held back,
then measures, each step in its own subprocess (benchmarks/steps.py) so its peak RSS is its own:

* landing   - dlt (`pipelines.load.load_drop`) of the event files against DuckDB reading the same
              files into a table (the native floor); ratio = native seconds / dlt seconds;
* build     - the dbt build the CLI runs (`dbt build --exclude-resource-type unit_test`, in-process
              through pipelines.dbt_runner) from the landed raw data, against benchmarks/floor.sql;
* incremental - the held-back day is added to the drop, landed and built incrementally; its marts
              are compared with a `--full-refresh` build of the same data (they must be equal);
* account detail - p50/p95 of `reports.data.account_detail` for 200 random accounts, warm;
* peak memory (max RSS) of every step.

Steps under a minute run `--runs` times (default 3) and report the median. Results go to
benchmarks/results/<size>.json and benchmarks/results/RESULTS.md. Generated data and warehouses
live in a scratch folder (`--work-dir`, default $ACCOUNT_HEALTH_BENCH_DIR or /tmp/account_health_bench).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from pipelines.config import disable_telemetry

disable_telemetry()

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
END_DATE = "2026-06-30"
SEED = 42
# Accounts scale the event volume (about 4,670 events per account-year with the demo's mix);
# users scale with accounts (the generator draws seats per account).
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"accounts": 20, "days": 40},
    "small": {"accounts": 260, "days": 365},  # 1.36M events
    "medium": {"accounts": 2_600, "days": 365},  # 12.2M events
    # 13,000 accounts gave ~61M events once the generator's users followed seats (session 2)
    "large": {"accounts": 10_700, "days": 365},  # ~50M events
}
LADDER = ["small", "medium", "large"]
REPEAT_BELOW_SECONDS = 60.0
DBT_BUILD = ["build", "--exclude-resource-type", "unit_test"]
GOALS = {
    "build_vs_floor_ratio": ("<=", 2.0),
    "incremental_vs_full": ("<=", "0.05 x full build + dbt start-up"),
    "landing_speed_ratio": (">=", 0.5),
    "account_detail_p95_ms": ("<", 25.0),
    "peak_rss_mb": ("<", 4096.0),
}


class StepFailed(RuntimeError):
    pass


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_step(name: str, args: dict, scratch: Path) -> dict:
    """Run benchmarks.steps NAME in a subprocess; add wall time, peak RSS and the load average."""
    result_file = scratch / f".step_{name}_{time.monotonic_ns()}.json"
    log_file = scratch / f".step_{name}.log"
    load_before = _loadavg()
    started = time.perf_counter()
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.steps", name, json.dumps(args), str(result_file)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not result_file.exists():
        tail = log_file.read_text(errors="replace")[-3000:]
        raise StepFailed(f"step {name} exited {proc.returncode}:\n{tail}")
    result = json.loads(result_file.read_text())
    result_file.unlink()
    peak_kb = max(usage.ru_maxrss, result.pop("children_max_rss_kb", 0))
    result.update(
        wall_seconds=round(wall, 3),
        peak_rss_mb=round(peak_kb / 1024, 1),
        loadavg_before=load_before,
    )
    if "seconds" in result:
        result["seconds"] = round(result["seconds"], 3)
    return result


def repeated(runs: int, once) -> dict:
    """Call once(i) up to `runs` times (only once when it takes a minute or more); medians."""
    results = [once(0)]
    if results[0]["seconds"] < REPEAT_BELOW_SECONDS:
        results += [once(i) for i in range(1, runs)]
    summary = {
        "seconds": round(statistics.median(r["seconds"] for r in results), 3),
        "runs": len(results),
        "seconds_each": [r["seconds"] for r in results],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "loadavg_before": results[0]["loadavg_before"],
    }
    last = results[-1]
    for key, value in last.items():
        summary.setdefault(key, value)
    return summary


def _fresh(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        if Path(f"{path}.wal").exists():
            Path(f"{path}.wal").unlink()
        # DuckDB's spill folder beside the file (the build's temp_directory): under the memory cap
        # it can hold as much as the warehouse
        if Path(f"{path}.tmp").is_dir():
            shutil.rmtree(Path(f"{path}.tmp"))


def _copy_db(src: Path, dst: Path) -> Path:
    _fresh(dst)
    shutil.copyfile(src, dst)
    return dst


def _keep_raw_only(db: Path) -> None:
    """Drop every schema dbt built, so the reference build (`--full-refresh`) starts from the raw
    tables alone: at `large` the built tables fill most of a 17 GB file, which the rebuild would
    otherwise keep beside their replacements (session 5's reference build ran out of disk). The same
    raw tables and a full refresh: the same result as a full refresh of the whole copy."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        schemas = [
            name
            for (name,) in con.execute(
                "select schema_name from information_schema.schemata "
                "where catalog_name = current_database() and schema_name not like 'raw\\_%' escape '\\' "
                "and schema_name not in ('main', 'information_schema', 'pg_catalog')"
            ).fetchall()
        ]
        for name in schemas:
            con.execute(f'drop schema "{name}" cascade')
        con.execute("checkpoint")


def _hardlink_tree(src: Path, dst: Path) -> None:
    _fresh(dst)
    shutil.copytree(src, dst, copy_function=os.link)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for package in ("dbt-core", "dbt-duckdb", "duckdb", "dlt", "pyarrow", "numpy", "streamlit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu_model": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


# git pathspec: the ladder's result files, left out of source_commit()'s dirty check
RESULTS_EXCLUDED = ":(exclude)benchmarks/results"


def source_commit() -> str | None:
    """The commit the ladder ran from (`+dirty` when the tree had uncommitted changes outside
    benchmarks/results/), so a reader can tell which code each size's figures belong to."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        # the ladder's own results (written after each size) do not make the code dirty
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", RESULTS_EXCLUDED],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+dirty" if dirty else head


def _dbt(work: Path, db: Path, command: list[str], label: str) -> dict:
    artifacts = work / "artifacts" / label
    artifacts.mkdir(parents=True, exist_ok=True)
    result = run_step(
        "dbt",
        {
            "db": str(db),
            "command": command,
            "target_dir": str(work / "target"),
            "artifacts_dir": str(artifacts),
        },
        work,
    )
    if not result["success"]:
        result["warning"] = "dbt reported failures: timings cover a partial build"
    return result


def bench_size(size: str, work_root: Path, runs: int, checkpoint=None, keep: bool = False) -> dict:
    """Every step for one size; `checkpoint(out)` after each, so a long run that is stopped
    (or a failed step) still leaves the figures measured so far. Without `keep`, each warehouse
    file is deleted once no later step reads it (at `large` they are 5-17 GB each)."""
    params = SIZES[size]
    work = work_root / size
    _fresh(work)
    work.mkdir(parents=True)
    drop, holdback = work / "drop", work / "holdback"
    out: dict[str, Any] = {
        "size": size,
        "params": {**params, "seed": SEED, "end_date": END_DATE, "format": "parquet"},
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": source_commit(),
        "loadavg_at_start": _loadavg(),
        "errors": {},
    }
    print(f"[{size}] generating {params} into {drop}", flush=True)
    out["generate"] = run_step(
        "generate", {"out": str(drop), "seed": SEED, "end_date": END_DATE, **params}, work
    )
    # Hold the last day back: the incremental step appends it.
    holdback.mkdir()
    last_day = drop / "product" / "events" / f"{END_DATE}.parquet"
    shutil.move(last_day, holdback / last_day.name)
    events_only = work / "events_only"
    (events_only / "product").mkdir(parents=True)
    (events_only / "product" / "events").symlink_to(drop / "product" / "events")
    events_glob = str(drop / "product" / "events" / "*.parquet")

    def guarded(key: str, body) -> None:
        try:
            out[key] = body()
        except StepFailed as exc:
            out["errors"][key] = str(exc)
            print(f"[{size}] {key} FAILED: {str(exc)[:400]}", flush=True)
        if checkpoint is not None:
            checkpoint({**out, "partial": True, "goals": goals(out)})

    # -- landing: dlt vs DuckDB's own read of the same event files --------------------------------
    def landing() -> dict:
        def dlt_once(i: int) -> dict:
            db, pdir = work / f"land_dlt_{i}.duckdb", work / f"dlt_land_{i}"
            _fresh(db, pdir)
            result = run_step(
                "land_dlt",
                {"source_dir": str(events_only), "db": str(db), "pipelines_dir": str(pdir)},
                work,
            )
            _fresh(db, pdir)
            return result

        def native_once(i: int) -> dict:
            db = work / f"land_native_{i}.duckdb"
            _fresh(db)
            result = run_step("land_native", {"db": str(db), "events_glob": events_glob}, work)
            _fresh(db)
            return result

        def native_landed_once(i: int) -> dict:
            # DuckDB alone writing the landing's two tables (same parse, same columns), no dlt
            db = work / f"land_native_landed_{i}.duckdb"
            _fresh(db)
            result = run_step("land_native_landed", {"db": str(db), "source_dir": str(events_only)}, work)
            _fresh(db)
            return result

        dlt_result, native = repeated(runs, dlt_once), repeated(runs, native_once)
        native_landed = repeated(runs, native_landed_once)
        return {
            "dlt": dlt_result,
            "native": native,
            "native_landed": native_landed,
            "speed_ratio": round(native["seconds"] / dlt_result["seconds"], 3),
            "speed_ratio_landed_tables": round(native_landed["seconds"] / dlt_result["seconds"], 3),
        }

    print(f"[{size}] landing (dlt vs native)", flush=True)
    guarded("landing", landing)

    # -- the raw warehouse every build starts from: all sources, landed once ------------------------
    landed = work / "landed.duckdb"

    def land_all() -> dict:
        return run_step(
            "land_dlt",
            {"source_dir": str(drop), "db": str(landed), "pipelines_dir": str(work / "dlt_all")},
            work,
        )

    print(f"[{size}] landing all sources", flush=True)
    guarded("landing_all_sources", land_all)
    if "landing_all_sources" not in out:
        return out

    # -- dbt start-up: parse once (partial parsing afterwards, as the CLI's shared target dir), then
    #    the cost of an in-process dbt command that selects nothing
    noop_db = work / "noop.duckdb"
    _copy_db(landed, noop_db)
    guarded("dbt_parse", lambda: _dbt(work, noop_db, ["parse"], "parse"))
    guarded(
        "dbt_startup",
        lambda: repeated(
            runs, lambda i: _dbt(work, noop_db, ["build", "--select", "tag:bench_selects_nothing"], "noop")
        ),
    )
    _fresh(noop_db)

    # -- full build vs floor ----------------------------------------------------------------------
    built = work / "built.duckdb"

    def full_build() -> dict:
        def once(i: int) -> dict:
            db = _copy_db(landed, work / f"build_{i}.duckdb")
            result = _dbt(work, db, DBT_BUILD, f"build_{i}")
            _fresh(built)
            db.rename(built)
            return result

        return repeated(runs, once)

    def floor() -> dict:
        def once(i: int) -> dict:
            db = _copy_db(landed, work / f"floor_{i}.duckdb")
            result = run_step("floor", {"db": str(db)}, work)
            _fresh(db)
            return result

        return repeated(runs, once)

    print(f"[{size}] full build", flush=True)
    guarded("build", full_build)
    print(f"[{size}] floor", flush=True)
    guarded("floor", floor)
    if "build" in out and "floor" in out:
        out["build_vs_floor_ratio"] = round(out["build"]["seconds"] / out["floor"]["seconds"], 3)

    if not keep:
        _fresh(landed)  # builds and floors start from copies of it; none is left to run

    # -- account detail: the app's data access on the full build ----------------------------------
    if built.exists():
        print(f"[{size}] account detail", flush=True)
        guarded(
            "account_detail",
            lambda: run_step("account_detail", {"db": str(built), "calls": 200, "seed": SEED}, work),
        )

    # -- incremental: one more day ----------------------------------------------------------------
    drop_plus = work / "drop_plus"
    _hardlink_tree(drop, drop_plus)
    os.link(holdback / last_day.name, drop_plus / "product" / "events" / last_day.name)
    incremental_db = work / "incremental.duckdb"

    def incremental() -> dict:
        def once(i: int) -> dict:
            db = _copy_db(built, work / f"inc_{i}.duckdb")
            pdir = work / f"dlt_inc_{i}"
            _fresh(pdir)
            land = run_step(
                "land_dlt", {"source_dir": str(drop_plus), "db": str(db), "pipelines_dir": str(pdir)}, work
            )
            build = _dbt(work, db, DBT_BUILD, f"incremental_{i}")
            _fresh(incremental_db, pdir)
            db.rename(incremental_db)
            build["landing"] = land
            return build

        result = repeated(runs, once)
        result["landing_seconds"] = result.pop("landing")["seconds"]
        return result

    if built.exists():
        print(f"[{size}] incremental", flush=True)
        guarded("incremental", incremental)
    if "incremental" in out and "build" in out:
        inc, full = out["incremental"], out["build"]
        inc["ratio_to_full_build"] = round(inc["seconds"] / full["seconds"], 4)
        startup = out.get("dbt_startup", {}).get("seconds")
        if startup is not None:
            inc["budget_seconds"] = round(0.05 * full["seconds"] + startup, 3)
    if not keep:
        _fresh(built)  # every incremental run has copied it
    reference = work / "full_refresh.duckdb"
    if incremental_db.exists():
        print(f"[{size}] full refresh + marts comparison", flush=True)
        if not keep:
            _fresh(drop, drop_plus, holdback, events_only)  # nothing reads the files any more
        _copy_db(incremental_db, reference)
        _keep_raw_only(reference)
        guarded("full_refresh", lambda: _dbt(work, reference, [*DBT_BUILD, "--full-refresh"], "full_refresh"))
        # Marts of a failed build are the incremental copy's, untouched: comparing them would say
        # "equal" about nothing (the session-5 large run's reference build ran out of disk).
        failed = [key for key in ("incremental", "full_refresh") if not out.get(key, {}).get("success")]
        for key in failed:
            if key in out and key not in out["errors"]:
                messages = [f.get("message", "") for f in out[key].get("failures", [])]
                out["errors"][key] = "dbt reported failures: " + " | ".join(messages)[:600]
        if failed:
            out["errors"]["marts_comparison"] = "not compared: failed or missing: " + ", ".join(failed)
            print(f"[{size}] marts comparison skipped: {failed} did not succeed", flush=True)
        else:
            compare = {"db": str(incremental_db), "reference": str(reference)}
            guarded("marts_comparison", lambda: run_step("compare_marts", compare, work))

    out["goals"] = goals(out)
    out["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["loadavg_at_end"] = _loadavg()
    return out


def goals(out: dict) -> dict:
    """Each goal of issue 9 with its measured value and whether it is met (None: not measured)."""

    def check(value, op: str, target) -> dict:
        met = None
        if value is not None:
            met = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
        return {"value": value, "target": f"{op} {target}", "met": met}

    inc = out.get("incremental", {})
    # The memory goal is the warehouse's own steps: landing (dlt), builds, the app's data access.
    # The demo generator and the yardsticks (DuckDB's native read, the floor script, which runs
    # with DuckDB's default memory limit) are reported in their steps but are not the product.
    peaks = [
        step.get("peak_rss_mb")
        for key in ("landing_all_sources", "build", "incremental", "full_refresh", "account_detail")
        if isinstance(step := out.get(key), dict)
    ]
    if "dlt" in out.get("landing", {}):
        peaks.append(out["landing"]["dlt"]["peak_rss_mb"])
    return {
        "build_vs_floor_ratio": check(out.get("build_vs_floor_ratio"), "<=", 2.0),
        "incremental_seconds_vs_budget": {
            "value": inc.get("seconds"),
            "target": f"<= 0.05 x full build + dbt start-up = {inc.get('budget_seconds')}",
            "met": None if "budget_seconds" not in inc else inc["seconds"] <= inc["budget_seconds"],
        },
        "landing_speed_ratio": check(out.get("landing", {}).get("speed_ratio"), ">=", 0.5),
        "account_detail_p95_ms": check(out.get("account_detail", {}).get("p95_ms"), "<", 25.0),
        "peak_rss_mb": check(max((p for p in peaks if p is not None), default=None), "<", 4096.0),
        "incremental_marts_equal_full_refresh": {
            "value": out.get("marts_comparison", {}).get("marts_equal"),
            "target": "true",
            "met": out.get("marts_comparison", {}).get("marts_equal"),
        },
    }


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}{unit}" if value < 100 else f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def write_markdown(results_dir: Path) -> Path:
    """benchmarks/results/RESULTS.md from every <size>.json present."""
    sizes = [s for s in [*LADDER, "tiny"] if (results_dir / f"{s}.json").exists()]
    results = {s: json.loads((results_dir / f"{s}.json").read_text()) for s in sizes}
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks.run` (`make bench SIZE=...`); "
        "the numbers are in `<size>.json`. Seconds are medians of the runs shown; ratios as in "
        "issue 9. Timings taken under a load average above the core count are inflated.",
        "",
    ]
    if results:
        m = next(iter(results.values()))["machine"]
        v = m["versions"]
        lines += [
            f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, {m['os']}, "
            f"Python {m['python']}, " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
            "",
        ]
    header = [
        "",
        *(
            f"{s} (partial: steps after the last figure did not run)" if results[s].get("partial") else s
            for s in sizes
        ),
    ]
    rows: list[list[str]] = []

    def row(label: str, getter) -> None:
        values = []
        for s in sizes:
            try:
                values.append(getter(results[s]))
            except (KeyError, TypeError, ZeroDivisionError):
                values.append("-")
        rows.append([label, *values])

    row("commit", lambda r: r.get("commit") or "(not recorded)")
    row("accounts x days", lambda r: f"{r['params']['accounts']:,} x {r['params']['days']}")
    row("event lines", lambda r: f"{r['generate']['events']:,}")
    row(
        "load average (start / end)",
        lambda r: f"{r['loadavg_at_start'][0]} / {r.get('loadavg_at_end', ['-'])[0]}",
    )
    row(
        "generate s (events/s wall, /s CPU)",
        lambda r: (
            f"{_fmt(r['generate']['seconds'])} "
            f"({r['generate']['events_per_second']:,.0f}, {r['generate']['events_per_cpu_second']:,.0f})"
        ),
    )
    row("landing dlt s (event files only)", lambda r: _fmt(r["landing"]["dlt"]["seconds"]))
    row("landing native s", lambda r: _fmt(r["landing"]["native"]["seconds"]))
    row("landing speed ratio (goal >= 0.5)", lambda r: _fmt(r["landing"]["speed_ratio"]))
    row(
        "landing native s, the two landed tables (ratio)",
        lambda r: (
            f"{_fmt(r['landing']['native_landed']['seconds'])} "
            f"({_fmt(r['landing']['speed_ratio_landed_tables'])})"
        ),
    )
    row("landing all sources s", lambda r: _fmt(r["landing_all_sources"]["seconds"]))
    row("dbt start-up s (no-op command)", lambda r: _fmt(r["dbt_startup"]["seconds"]))
    row("full build s (runs)", lambda r: f"{_fmt(r['build']['seconds'])} ({r['build']['runs']})")
    row("floor s (runs)", lambda r: f"{_fmt(r['floor']['seconds'])} ({r['floor']['runs']})")
    row("build / floor (goal <= 2 at large)", lambda r: _fmt(r["build_vs_floor_ratio"]))
    row("incremental landing s", lambda r: _fmt(r["incremental"]["landing_seconds"]))
    row("incremental build s", lambda r: _fmt(r["incremental"]["seconds"]))
    row("incremental / full", lambda r: _fmt(r["incremental"]["ratio_to_full_build"]))
    row("incremental budget s (5% full + start-up)", lambda r: _fmt(r["incremental"]["budget_seconds"]))
    row("incremental marts = full refresh", lambda r: str(r["marts_comparison"]["marts_equal"]))
    row(
        "account detail p50 / p95 ms (goal p95 < 25)",
        lambda r: f"{_fmt(r['account_detail']['p50_ms'])} / {_fmt(r['account_detail']['p95_ms'])}",
    )
    row("peak RSS MB (goal < 4096: landing, builds, app)", lambda r: _fmt(r["goals"]["peak_rss_mb"]["value"]))
    row(
        "peak RSS MB: dlt landing / full build / incremental / app",
        lambda r: " / ".join(
            _fmt(step.get("peak_rss_mb")) if isinstance(step, dict) else "-"
            for step in (
                r["landing"].get("dlt"),
                r.get("build"),
                r.get("incremental"),
                r.get("account_detail"),
            )
        ),
    )
    row(
        "peak RSS MB, not in the goal: generator / floor",
        lambda r: f"{_fmt(r['generate']['peak_rss_mb'])} / {_fmt(r['floor']['peak_rss_mb'])}",
    )
    row("dbt build success", lambda r: str(r["build"]["success"]))
    row("steps that failed", lambda r: ", ".join(sorted(r.get("errors", {}))) or "none")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append("")
    for s in sizes:
        for step, error in sorted(results[s].get("errors", {}).items()):
            lines += [f"Failed step ({s}) `{step}`: {error[:300]}", ""]
        slow = results[s].get("build", {}).get("slowest_nodes", [])[:8]
        if slow:
            lines += [f"Slowest nodes of the full build ({s}):", ""]
            lines += [f"- `{n['unique_id']}` {n['seconds']} s" for n in slow]
            lines.append("")
        slow = results[s].get("incremental", {}).get("slowest_nodes", [])[:5]
        if slow:
            lines += [f"Slowest nodes of the incremental build ({s}):", ""]
            lines += [f"- `{n['unique_id']}` {n['seconds']} s" for n in slow]
            lines.append("")
    notes = results_dir / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    path = results_dir / "RESULTS.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small", choices=[*SIZES, "all"])
    parser.add_argument("--runs", type=int, default=3, help="runs per step under a minute (median)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(os.environ.get("ACCOUNT_HEALTH_BENCH_DIR", "/tmp/account_health_bench")),
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the generated data and warehouses")
    args = parser.parse_args(argv)
    sizes = LADDER if args.size == "all" else [args.size]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    status = 0
    for size in sizes:
        path = args.results_dir / f"{size}.json"

        def checkpoint(partial: dict, path: Path = path) -> None:
            path.write_text(json.dumps(partial, indent=2) + "\n", encoding="utf-8")
            write_markdown(args.results_dir)

        result = bench_size(size, args.work_dir.resolve(), args.runs, checkpoint, keep=args.keep)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"[{size}] results: {path}", flush=True)
        print(json.dumps(result["goals"], indent=2), flush=True)
        if result["errors"]:
            status = 1
        if not args.keep:
            _fresh(args.work_dir.resolve() / size)
    write_markdown(args.results_dir)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
