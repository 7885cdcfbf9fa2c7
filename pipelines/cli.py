"""`account-health`: load the file drop, build, audit and publish the warehouse (CONTRACT section 4).

    account-health run [--source NAME,...] [--source-dir DIR] [--warehouse FILE] [--as-of YYYY-MM-DD]
    account-health demo | load | build | publish | app | rollback | status

`run` is write-audit-publish: it checks the drop's inputs (events and accounts are required), copies
the published warehouse to a candidate file, lands the drop into the candidate (dlt), runs one
`dbt build` and `dbt source freshness` on it, checks the share of rejected records, validates the
marts with great-expectations, and only then replaces the published file atomically. It exits 0 only
when it published. The demo company is generated only by `demo`, or by a `run` over the default
source folder when it is empty and nothing is published yet. See docs/OPERATIONS.md.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import disable_telemetry

# Before anything imports dbt, dlt or great_expectations: no telemetry, no network.
disable_telemetry()

from pipelines import features, lake  # noqa: E402
from pipelines import publish as wap  # noqa: E402
from pipelines.calibrate import add_arguments as calibrate_arguments  # noqa: E402
from pipelines.calibrate import command as calibrate_command  # noqa: E402
from pipelines.config import DEFAULT_SOURCE_DIR, Settings, load_settings  # noqa: E402
from pipelines.connectors import parse_sources  # noqa: E402
from pipelines.connectors.steps import pulls, step_pull, summary_lines  # noqa: E402
from pipelines.notify import cli as notify_cli  # noqa: E402
from pipelines.runlog import RunRecord, append_sidecar, new_run_id, read_sidecar  # noqa: E402

logger = logging.getLogger("account_health")
summary_log = logging.getLogger("account_health.summary")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BUSY = 3

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".parquet")


class Interrupted(BaseException):
    """SIGTERM/SIGINT: stop the run; the published warehouse is untouched."""


def _on_signal(signum, _frame):
    raise Interrupted(f"interrupted by signal {signum}")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The end-of-run summary is the command's output: plain lines on stdout.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    summary_log.handlers = [handler]
    summary_log.propagate = False
    summary_log.setLevel(logging.INFO)
    for noisy in ("great_expectations", "dlt", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------- steps
def has_data(source_dir: Path) -> bool:
    """True when the source folder holds at least one data file of the drop."""
    if not source_dir.is_dir():
        return False
    return any(p.is_file() and p.name.endswith(DATA_SUFFIXES) for p in source_dir.rglob("*"))


def step_demo(settings: Settings, force: bool = False) -> dict | None:
    """Generate the embedded demo company into the source folder when it has no data."""
    if has_data(settings.source_dir) and not force:
        logger.info("source folder %s has data; demo company not generated", settings.source_dir)
        return None
    try:
        from pipelines.demo import generate
    except ImportError as exc:
        raise wap.PublishError("demo", f"the demo generator is not available ({exc})") from exc
    logger.info(
        "generating the demo company (%d accounts x %d days) into %s",
        settings.demo_accounts,
        settings.demo_days,
        settings.source_dir,
    )
    return generate(
        settings.source_dir,
        accounts=settings.demo_accounts,
        days=settings.demo_days,
        seed=settings.demo_seed,
        progress=settings.progress,
    )


def _flatten(counts, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(counts, dict):
        for key, value in counts.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(_flatten(value, name))
            elif isinstance(value, int | float):
                out[name] = int(value)
    return out


def demo_allowed(settings: Settings) -> bool:
    """Whether `run` may generate the demo company: only into the default source folder, only when
    it holds no data and nothing is published yet (a first `make run`). A typo in a path, an
    unmounted volume or an emptied drop of a real company fails instead, touching nothing."""
    default = Path(DEFAULT_SOURCE_DIR).expanduser().resolve()
    return (
        settings.source_dir == default
        and not has_data(settings.source_dir)
        and not settings.warehouse.exists()
    )


def step_inputs(settings: Settings, record: RunRecord) -> None:
    """Check the drop before anything is written: required inputs present, the rest inventoried."""
    from pipelines.inputs import MissingInputs, check

    try:
        record.inputs = check(settings.source_dir)
    except MissingInputs as exc:
        hint = ""
        if not has_data(settings.source_dir):
            hint = " (`account-health demo --source-dir DIR` writes the demo company's drop)"
        raise wap.PublishError("inputs", f"{exc}{hint}") from exc


def step_load(settings: Settings, record: RunRecord, run_dir: Path) -> None:
    try:
        from pipelines.load import load_drop
    except ImportError as exc:
        raise wap.PublishError("load", f"the loader is not available ({exc})") from exc
    # dlt's local working state lives beside the warehouse, not in the user's home folder.
    extra = {}
    if "pipelines_dir" in inspect.signature(load_drop).parameters:
        extra["pipelines_dir"] = str(settings.runs_dir / ".dlt")
    try:
        result = load_drop(
            settings.source_dir, settings.candidate, destination="duckdb", progress=settings.progress, **extra
        )
    except Exception as exc:
        logger.exception("load failed")
        raise wap.PublishError("load", f"{type(exc).__name__}: {exc}") from exc
    # load_drop returns {"rows": {"raw_x.table": n}, "files_loaded": [...], "files_skipped": [...]}
    rows = result.get("rows", result) if isinstance(result, dict) else {}
    record.landed = _flatten(rows)
    record.rows_landed = sum(record.landed.values())
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "load_info.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    wap.mark_step(settings, "load", landed=record.landed)


def step_build(settings: Settings, record: RunRecord, run_dir: Path) -> None:
    """`dbt build` (seeds, models, snapshots, data tests) and `dbt source freshness`.

    dbt unit tests are not run here: they test the project's logic on its fixtures, belong to
    development and CI (`make test`), and read the raw schema of the warehouse they run on, so a
    customer's data could fail them without anything being wrong with it."""
    from pipelines import dbt_runner

    dbt_vars = {"as_of_date": settings.as_of} if settings.as_of else None
    common = {
        "project_dir": settings.project_dir,
        "build_db": settings.candidate,
        "target_dir": settings.dbt_target_dir,
        "log_dir": run_dir,
        "dbt_vars": dbt_vars,
        "artifacts_dir": run_dir,
    }
    with record.step("build"):
        # One parse for both commands (dbt_runner.parse): each reuses the manifest.
        common["manifest"] = dbt_runner.parse(**{k: v for k, v in common.items() if k != "artifacts_dir"})
        build_args = ["build", "--exclude-resource-type", "unit_test"]
        if settings.full_refresh:
            build_args.append("--full-refresh")
        outcome = dbt_runner.invoke(build_args, **common)
        if not outcome.success:
            raise wap.PublishError("build", outcome.describe())
    with record.step("freshness"):
        step_freshness(settings, record, run_dir, common)
    wap.mark_step(settings, "build", as_of=settings.as_of)


def step_freshness(settings: Settings, record: RunRecord, run_dir: Path, common: dict) -> None:
    """`dbt source freshness`, measured on the data's own time (each source table's config says
    which column and how old is too old). A run with an explicit `--as-of` replays a past date, so
    age against today's clock means nothing for it: its freshness is reported, never blocking."""
    from pipelines import dbt_runner

    outcome = dbt_runner.invoke(["source", "freshness"], **common)
    record.freshness = read_freshness(run_dir / "freshness_sources.json")
    stale = [row for row in record.freshness if row["status"] == "error"]
    # a query that could not run is a broken check, not old data: it blocks even a replay
    if outcome.exception or any(f["status"] != "error" for f in outcome.failures):
        raise wap.PublishError("freshness", outcome.describe())
    if stale and settings.as_of:
        for row in stale:
            row["status"] = f"error, not enforced: as of {settings.as_of}"
        logger.warning(
            "freshness: %s older than allowed against today; not blocking, the run is as of %s",
            ", ".join(row["source"] for row in stale),
            settings.as_of,
        )
    elif stale or not outcome.success:
        raise wap.PublishError("freshness", outcome.describe())


def read_freshness(path: Path) -> list[dict]:
    """[{source, max_loaded_at, age_hours, status}] from dbt's sources.json; [] when absent."""
    if not path.exists():
        return []
    rows = []
    for result in json.loads(path.read_text(encoding="utf-8")).get("results", []):
        age = result.get("max_loaded_at_time_ago_in_s")
        latest = result.get("max_loaded_at")
        # dbt dates a table with no record to year 1: that is no data, not an age
        if latest is None or str(latest).startswith("0001-"):
            latest, age = None, None
        rows.append(
            {
                "source": ".".join(result.get("unique_id", "?").split(".")[-2:]),
                "max_loaded_at": latest,
                # a record stamped later today (a clock ahead, a day not over) is fresh, not negative
                "age_hours": None if age is None else round(max(age, 0) / 3600, 1),
                "status": str(result.get("status", "")).lower(),
            }
        )
    return sorted(rows, key=lambda row: row["source"])


def step_quality(settings: Settings, record: RunRecord) -> None:
    """Rejected share against the limit; reconciliation, unresolved events, data findings for the summary."""
    report = wap.collect_quality(settings.candidate)
    record.rejected_by_reason = report["rejected_by_reason"]
    record.rows_rejected = report["rows_rejected"]
    record.unresolved_events = report["unresolved_events"]
    record.reconciliation = report["reconciliation"]
    record.findings_by_type = wap.collect_findings(settings.candidate)
    record.summary_checks = features.collect_summary_checks(settings.candidate)
    share = wap.rejected_share(report)
    record.rejected_share = None if share is None else round(share, 6)
    for row in report["reconciliation"]:
        if row["balanced"] is False:
            logger.warning(
                "reconciliation: %s has %d raw rows but %d staged + %d rejected",
                row["raw_table"],
                row["raw_rows"],
                row["staged_rows"],
                row["rejected_rows"],
            )
    if share is None:
        logger.info("rejected share not checked: quality.rejected_records or raw tables not built")
        return
    if share > settings.max_rejected_share:
        raise wap.PublishError(
            "quality",
            f"rejected records {report['rows_rejected']} are {share:.2%} of {report['raw_rows']} raw rows, "
            f"above the limit of {settings.max_rejected_share:.2%}",
        )


def step_audit(settings: Settings, run_dir: Path) -> None:
    from pipelines.audit import run_audit

    result = run_audit(settings.candidate, settings.warehouse, settings, run_dir)
    if not result.success:
        raise wap.PublishError("audit", result.describe())


def step_publish(settings: Settings, record: RunRecord) -> None:
    record.finish("published")
    record.published_path = str(settings.warehouse)
    records = read_sidecar(settings.run_log_file) + [record.as_json()]
    wap.publish_candidate(settings, records)


# ------------------------------------------------------------------------------------- commands
def _new_record(command: str, settings: Settings) -> RunRecord:
    return RunRecord(
        run_id=new_run_id(),
        command=command,
        source_dir=str(settings.source_dir),
        warehouse=str(settings.warehouse),
        as_of_date=settings.as_of,
    )


def _finish(settings: Settings, record: RunRecord, outcome: str, message: str | None = None) -> None:
    if record.finished_at is None or record.outcome != outcome:
        record.finish(outcome, message)
    try:
        append_sidecar(settings.run_log_file, record)
        run_dir = settings.run_dir(record.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(
            json.dumps(record.as_json(), indent=2, default=str), encoding="utf-8"
        )
    except OSError as exc:
        logger.error("could not write the run log: %s", exc)


def _guarded(command: str, settings: Settings, body) -> int:
    """Run `body(record, run_dir)` under the writer lock and record the outcome, whatever happens."""
    record = _new_record(command, settings)
    run_dir = settings.run_dir(record.run_id)
    logger.info("%s %s: warehouse %s", command, record.run_id, settings.warehouse)
    lock = wap.WarehouseLock(settings.lock_file)
    try:
        lock.acquire()
    except wap.WarehouseBusy as exc:
        logger.error("%s", exc)
        record.failed_step = "lock"
        _finish(settings, record, "busy", str(exc))
        summary_log.info("%s", exc)
        return EXIT_BUSY
    try:
        outcome = body(record, run_dir)
        _finish(settings, record, outcome)
        code = EXIT_OK
    except wap.PublishError as exc:
        record.failed_step = exc.step
        _finish(settings, record, "failed", exc.message)
        logger.error("%s failed at step %s: %s", command, exc.step, exc.message)
        code = EXIT_FAILED
    except (Interrupted, KeyboardInterrupt) as exc:
        _finish(settings, record, "failed", f"interrupted: {exc}")
        logger.error("%s interrupted; the published warehouse is untouched", command)
        code = EXIT_FAILED
    except Exception as exc:
        logger.exception("%s failed", command)
        _finish(settings, record, "failed", f"{type(exc).__name__}: {exc}")
        code = EXIT_FAILED
    finally:
        lock.release()
    _print_summary(settings, record)
    if code != EXIT_OK and settings.candidate.exists():
        logger.info("candidate kept for inspection at %s (the next run removes it)", settings.candidate)
    return code


def cmd_run(settings: Settings) -> int:
    def body(record: RunRecord, run_dir: Path) -> str:
        if demo_allowed(settings) and not pulls(settings):
            with record.step("demo"):
                step_demo(settings)
        if pulls(settings):
            with record.step("pull"):
                step_pull(settings, record)
        with record.step("inputs"):
            step_inputs(settings, record)
        with record.step("prepare"):
            wap.prepare_candidate(settings)
        with record.step("load"):
            step_load(settings, record, run_dir)
        step_build(settings, record, run_dir)
        with record.step("quality"):
            step_quality(settings, record)
        with record.step("audit"):
            step_audit(settings, run_dir)
        with record.step("publish"):
            step_publish(settings, record)
        notify_cli.step_after_run(settings)  # only when a notify.toml is configured; never fails the run
        return "published"

    return _guarded("run", settings, body)


def cmd_load(settings: Settings) -> int:
    def body(record: RunRecord, run_dir: Path) -> str:
        if pulls(settings):
            with record.step("pull"):
                step_pull(settings, record)
        with record.step("inputs"):
            step_inputs(settings, record)
        with record.step("prepare"):
            wap.prepare_candidate(settings)
        with record.step("load"):
            step_load(settings, record, run_dir)
        return "loaded"

    return _guarded("load", settings, body)


def cmd_build(settings: Settings) -> int:
    def body(record: RunRecord, run_dir: Path) -> str:
        if not settings.candidate.exists() or wap.read_state(settings) is None:
            logger.info("no candidate from `load`; building on a copy of the published warehouse")
            with record.step("prepare"):
                wap.prepare_candidate(settings)
        step_build(settings, record, run_dir)
        with record.step("quality"):
            step_quality(settings, record)
        return "built"

    return _guarded("build", settings, body)


def cmd_publish(settings: Settings) -> int:
    def body(record: RunRecord, run_dir: Path) -> str:
        state = wap.read_state(settings)
        if not settings.candidate.exists() or not state or "build" not in state.get("steps", []):
            raise wap.PublishError("publish", "no built candidate: run `account-health build` first")
        record.landed = state.get("landed") or {}
        record.rows_landed = sum(record.landed.values()) if record.landed else None
        with record.step("quality"):
            step_quality(settings, record)
        with record.step("audit"):
            step_audit(settings, run_dir)
        with record.step("publish"):
            step_publish(settings, record)
        return "published"

    return _guarded("publish", settings, body)


def cmd_rollback(settings: Settings) -> int:
    def body(record: RunRecord, run_dir: Path) -> str:
        with record.step("rollback"):
            wap.rollback(settings)
        record.published_path = str(settings.warehouse)
        return "rolled_back"

    return _guarded("rollback", settings, body)


def cmd_demo(settings: Settings, force: bool) -> int:
    try:
        manifest = step_demo(settings, force=force)
    except wap.PublishError as exc:
        logger.error("%s", exc)
        return EXIT_FAILED
    if manifest is None:
        summary_log.info("source folder %s already has data (use --force to regenerate)", settings.source_dir)
    else:
        summary_log.info("demo company written to %s", settings.source_dir)
    return EXIT_OK


def cmd_status(settings: Settings) -> int:
    def describe(path: Path) -> str:
        if not path.exists():
            return "missing"
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
        return f"{stat.st_size / 1e6:.1f} MB, modified {modified}"

    lock = wap.WarehouseLock(settings.lock_file)
    busy = wap.is_locked(settings.lock_file)
    lines = [
        f"published : {settings.warehouse} ({describe(settings.warehouse)})",
        f"previous  : {settings.previous} ({describe(settings.previous)})",
        f"candidate : {settings.candidate} ({describe(settings.candidate)})"
        + (f" steps={wap.read_state(settings).get('steps')}" if wap.read_state(settings) else ""),
        f"writer    : {'busy, pid ' + str(lock.holder()) if busy else 'idle'}",
        "recent runs:",
    ]
    for entry in read_sidecar(settings.run_log_file)[-5:]:
        lines.append(
            f"  {entry['run_id']}  {entry.get('command', ''):8} {entry['outcome']:12} "
            f"{entry.get('failed_step') or '':10} {(entry.get('message') or '')[:80]}"
        )
    lines += notify_cli.status_lines(settings.warehouse)
    for line in lines:
        summary_log.info("%s", line)
    return EXIT_OK


def cmd_app(settings: Settings, port: int) -> int:
    """Start the Streamlit app, bound to 127.0.0.1, reading the published warehouse read-only."""
    import subprocess

    app = settings.project_dir / "reports" / "app.py"
    if not app.exists():
        logger.error("the reporting app %s does not exist yet", app)
        return EXIT_FAILED
    env = dict(os.environ, ACCOUNT_HEALTH_WAREHOUSE=str(settings.warehouse))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    logger.info("starting the app on http://127.0.0.1:%d (warehouse %s)", port, settings.warehouse)
    child = subprocess.Popen(command, env=env, cwd=settings.project_dir)
    try:
        return child.wait()
    except (Interrupted, KeyboardInterrupt):
        child.terminate()  # SIGTERM/Ctrl-C of the CLI stops the app too
        try:
            return child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


# -------------------------------------------------------------------------------------- summary
def _print_summary(settings: Settings, record: RunRecord) -> None:
    out = summary_log.info
    out("")
    out(f"{record.command} {record.run_id}: {record.outcome}")
    if record.outcome == "failed":
        out(f"  failed step: {record.failed_step}: {record.message}")
    if record.inputs:
        from pipelines.inputs import describe_gaps

        gaps = describe_gaps(record.inputs)
        out("inputs missing or empty:" if gaps else "inputs: every contract input present")
        for line in gaps:
            out(f"  {line}")
    for line in summary_lines(record):
        out(line)
    if record.landed:
        out("rows landed:")
        for table, rows in sorted(record.landed.items()):
            out(f"  {table:44} {rows:>10,}")
    if record.rows_rejected is not None:
        share = f"{record.rejected_share:.2%}" if record.rejected_share is not None else "n/a"
        out(
            f"records rejected: {record.rows_rejected:,} ({share} of raw rows; "
            f"limit {settings.max_rejected_share:.2%})"
        )
        for reason, rows in record.rejected_by_reason.items():
            out(f"  {reason:44} {rows:>10,}")
    if record.findings_by_type is not None:
        total = sum(record.findings_by_type.values())
        out(f"data findings: {total:,} (not rejections, nothing blocked; quality.data_findings)")
        for finding_type, rows in record.findings_by_type.items():
            out(f"  {finding_type:44} {rows:>10,}")
    for line in features.summary_lines(record.summary_checks):
        out(line)
    if record.unresolved_events is not None:
        out(f"unresolved events: {record.unresolved_events:,}")
    if record.reconciliation:
        out("reconciliation (raw rows [+ quarantined by the loader] = staged + rejected):")
        for row in record.reconciliation:
            staged = "n/a" if row["staged_rows"] is None else f"{row['staged_rows']:,}"
            verdict = {True: "ok", False: "MISMATCH", None: "not staged"}[row["balanced"]]
            rejected = f"{row['rejected_rows']:,}"
            landed = f"{row['raw_rows']:>10,}"
            if row.get("quarantined_rows"):
                landed += f" + {row['quarantined_rows']:,}"
            out(f"  {row['raw_table']:44} {landed} = {staged} + {rejected}  {verdict}")
    if record.freshness:
        out("freshness (age of the latest record of each checked table, by its own timestamp):")
        for row in record.freshness:
            age = "no records" if row["age_hours"] is None else f"{row['age_hours'] / 24:,.1f} days old"
            out(f"  {row['source']:44} {age:>16}  {row['status']}")
    if record.steps:
        steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in record.steps.items())
        out(f"elapsed: {steps}; total {record.elapsed_seconds or 0:.1f}s")
    if record.outcome in ("published", "rolled_back"):
        out(f"published: {settings.warehouse}")
    elif record.command in ("run", "publish"):
        out(f"not published; {settings.warehouse} is unchanged")


# ----------------------------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="account-health", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")

    def add(name: str, help_text: str, source=False, warehouse=True, as_of=False):
        cmd = sub.add_parser(name, help=help_text)
        if source:
            cmd.add_argument(
                "--source-dir", help="the file drop (env ACCOUNT_HEALTH_SOURCE_DIR; data/landing)"
            )
        if warehouse:
            cmd.add_argument(
                "--warehouse",
                help="the published DuckDB file (env ACCOUNT_HEALTH_WAREHOUSE; warehouse/health.duckdb)",
            )
        if as_of:
            cmd.add_argument("--as-of", help="reference date YYYY-MM-DD (default: latest event date)")
            cmd.add_argument(
                "--full-refresh",
                action="store_true",
                help="rebuild incremental models from all landed data instead of only the days that "
                "changed (after an upgrade that changes their columns or types, or to repair)",
            )
        if name in ("run", "load"):
            cmd.add_argument(
                "--source",
                action="append",
                metavar="NAME",
                help="pull from stripe, hubspot, amplitude, mixpanel, posthog into the drop first "
                "(repeat or comma-separate; default: files, the drop as it is; docs/CONNECTORS.md)",
            )
        if name in ("run", "build", "publish"):
            cmd.add_argument(
                "--max-rejected-share",
                type=float,
                help="fail when rejected records exceed this share of raw rows (env "
                "ACCOUNT_HEALTH_MAX_REJECTED_SHARE; 0.05)",
            )
        return cmd

    add("run", "load, build, audit and publish (the default)", source=True, as_of=True)
    demo = add("demo", "generate the demo company's file drop", source=True, warehouse=False)
    demo.add_argument("--force", action="store_true", help="generate even when the folder has data")
    add("load", "land the file drop into a fresh candidate warehouse", source=True)
    add("build", "dbt build and source freshness on the candidate", as_of=True)
    add("publish", "audit the built candidate and publish it atomically")
    app = add("app", "start the reporting app on 127.0.0.1")
    app.add_argument("--port", type=int, default=8501)
    add("rollback", "swap the published warehouse with the previous publish")
    add("status", "show the published, previous and candidate files, recent runs and notifications")
    notify_cli.add_arguments(
        add("notify", "send new alerts, signals and weekly digests (docs/NOTIFICATIONS.md)")
    )
    calibrate_arguments(add("calibrate", "fit health weights and a churn model on the published history"))
    feats = add(
        "features", "the company's event taxonomy, key features found or not, proposed weights", source=True
    )
    feats.add_argument("--write", action="store_true", help="write the proposed key features (diff + .bak)")
    feats.add_argument("--json", type=Path, help="also write the whole report as JSON to this file")
    feats.add_argument("--key-features", type=Path, help="the key features file (seeds/key_features.csv)")
    lake.add_options(sub.choices["load"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    command = args.command or "run"
    try:
        sources = parse_sources(getattr(args, "source", None))
    except ValueError as exc:
        _parser().error(str(exc))
    settings = load_settings(
        getattr(args, "source_dir", None),
        getattr(args, "warehouse", None),
        as_of=getattr(args, "as_of", None),
        full_refresh=getattr(args, "full_refresh", None) or None,
        max_rejected_share=getattr(args, "max_rejected_share", None),
        progress=sys.stderr.isatty(),
        extra={"sources": sources},
    )
    signal.signal(signal.SIGTERM, _on_signal)
    if command == "load" and args.destination == "lake":
        return lake.cmd_load_lake(settings, lake.lake_dir(settings.warehouse, args.lake_dir))
    handlers = {
        "run": lambda: cmd_run(settings),
        "demo": lambda: cmd_demo(settings, getattr(args, "force", False)),
        "load": lambda: cmd_load(settings),
        "build": lambda: cmd_build(settings),
        "publish": lambda: cmd_publish(settings),
        "app": lambda: cmd_app(settings, args.port),
        "rollback": lambda: cmd_rollback(settings),
        "status": lambda: cmd_status(settings),
        "notify": lambda: notify_cli.command(settings, args),
        "calibrate": lambda: calibrate_command(settings, args),
        "features": lambda: features.run_cli(settings, args, summary_log.info),
    }
    return handlers[command]()


if __name__ == "__main__":
    sys.exit(main())
