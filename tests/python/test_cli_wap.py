"""The `account-health` CLI end to end: write-audit-publish with real dlt, real dbt and real GX.

The runs here use a small dbt project of their own (a copy of the repository's dbt_project.yml,
profiles.yml and schema macro, plus one source, one staging model, one rejection model and one
mart) and a CRM-only file drop of a few rows, so that the mechanics of the CLI (candidate file,
lock, atomic publish, rollback, failure paths) are tested in seconds and independently of the
warehouse's own models, which test_cli_demo_company.py runs on the demo company.
Each test works in its own temporary folder and never touches warehouse/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]

pytestmark = pytest.mark.slow

SOURCES_YML = """
sources:
  - name: raw_crm
    schema: raw_crm
    loader: dlt
    config:
      loaded_at_field: _loaded_at
      freshness:
        warn_after: {count: 12, period: hour}
        error_after: {count: 2, period: day}
    tables:
      - name: accounts
"""

STAGING_SQL = """
select
    account_id,
    name as account_name,
    segment,
    csm_owner
from {{ source('raw_crm', 'accounts') }}
where segment in ('smb', 'mid_market', 'enterprise')
"""

REJECTED_SQL = """
select
    'accounts:' || account_id as rejected_record_id,
    'crm' as source_system,
    'accounts' as source_table,
    account_id as record_key,
    'unknown_segment' as reason,
    segment as raw_payload
from {{ source('raw_crm', 'accounts') }}
where segment not in ('smb', 'mid_market', 'enterprise') or segment is null
"""

MART_SQL = """
with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

scored as (
    select
        account_id,
        account_name,
        segment,
        csm_owner,
        cast((length(account_name) * 7) % 100 as double) as health_score
    from accounts
)

select
    account_id,
    account_name,
    segment,
    csm_owner,
    cast(1200 as decimal(18, 2)) as arr,
    cast(100 as decimal(18, 2)) as mrr,
    health_score,
    health_score as usage_score,
    health_score as relationship_score,
    case when health_score >= 50 then 'Champions' else 'Churn Risk' end as quadrant,
    cast(null as varchar) as previous_quadrant,
    health_score < 40 as is_at_risk,
    false as has_override
from scored
"""

MARTS_YML = """
models:
  - name: dim_accounts
    description: One row per account.
    columns:
      - name: account_id
        data_tests: [unique, not_null]
"""


def make_project(root: Path) -> Path:
    """A small dbt project with the repository's profile, vars and schema naming."""
    project = root / "project"
    for name in ("dbt_project.yml", "profiles.yml"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, project / name)
    (project / "macros").mkdir()
    # the schema naming, and the hooks dbt_project.yml names for every model
    for macro in ("generate_schema_name.sql", "cross_db/postgres_planner.sql"):
        shutil.copy2(REPO / "macros" / macro, project / "macros" / Path(macro).name)
    files = {
        "models/staging/crm/_crm__sources.yml": SOURCES_YML,
        "models/staging/crm/stg_crm__accounts.sql": STAGING_SQL,
        "models/quality/rejected_records.sql": REJECTED_SQL,
        "models/marts/core/dim_accounts.sql": MART_SQL,
        "models/marts/core/_core__models.yml": MARTS_YML,
    }
    for relative, text in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    for folder in ("seeds", "tests", "snapshots", "analyses"):
        (project / folder).mkdir(exist_ok=True)
    return project


def make_drop(root: Path, accounts: int = 20, bad: int = 1, name: str = "drop") -> Path:
    """A file drop of `accounts` valid accounts plus `bad` with an unknown segment, and the one product
    event a run requires (the small project here reads only the accounts)."""
    drop = root / name
    (drop / "crm").mkdir(parents=True)
    segments = ["smb", "mid_market", "enterprise"]
    lines = ["account_id,name,domain,segment,industry,csm_owner,stripe_customer_id,created_at"]
    for i in range(1, accounts + bad + 1):
        segment = segments[i % 3] if i <= accounts else "galactic"
        lines.append(
            f"acc_{i:05d},Company {'x' * (i % 9)}{i},c{i}.example,{segment},software,csm_{i % 3},"
            f"cus_{i:05d},2026-01-{(i % 28) + 1:02d}T00:00:00+00:00"
        )
    (drop / "crm" / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (drop / "product" / "events").mkdir(parents=True)
    event = '{"messageId": "m1", "type": "track", "userId": "u1", "event": "login", '
    event += '"timestamp": "2026-01-02T00:00:00Z", "context": {"groupId": "acc_00001"}}'
    (drop / "product" / "events" / "part-0001.jsonl").write_text(event + "\n", encoding="utf-8")
    return drop


def cli_env(project: Path) -> dict:
    env = dict(os.environ)
    for key in ("ACCOUNT_HEALTH_SOURCE_DIR", "ACCOUNT_HEALTH_WAREHOUSE", "ACCOUNT_HEALTH_BUILD_DB"):
        env.pop(key, None)
    env.update(
        {
            "ACCOUNT_HEALTH_PROJECT_DIR": str(project),
            "DO_NOT_TRACK": "1",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def run_cli(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mart_hashes(path: Path) -> dict[str, str]:
    from pipelines.publish import mart_fingerprints

    return mart_fingerprints(path)


def query(path: Path, sql: str):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    """One project, drop and published warehouse per module; tests work on copies of it."""
    root = tmp_path_factory.mktemp("wap_template")
    project = make_project(root)
    drop = make_drop(root)
    warehouse = root / "wh" / "health.duckdb"
    result = run_cli(["run", "--source-dir", str(drop), "--warehouse", str(warehouse)], cli_env(project))
    assert result.returncode == 0, result.stdout + result.stderr
    return {"root": root, "stdout": result.stdout, "stderr": result.stderr}


def _site(root: Path) -> dict:
    project = root / "project"
    return {
        "root": root,
        "project": project,
        "drop": root / "drop",
        "warehouse": root / "wh" / "health.duckdb",
        "env": cli_env(project),
    }


@pytest.fixture
def site(tmp_path: Path) -> dict:
    """A project and a drop in a fresh temporary folder, nothing published yet."""
    make_project(tmp_path)
    make_drop(tmp_path)
    return _site(tmp_path)


@pytest.fixture
def published(template, tmp_path: Path) -> dict:
    """A copy of the template after one successful run (project, drop, warehouse, run log)."""
    root = tmp_path / "site"
    shutil.copytree(template["root"], root, ignore=shutil.ignore_patterns(".dlt", ".dbt_target"))
    return _site(root)


def run_args(site: dict, *extra: str) -> list[str]:
    return ["run", "--source-dir", str(site["drop"]), "--warehouse", str(site["warehouse"]), *extra]


def test_run_publishes_with_summary_and_run_log(published):
    site = published
    wh = site["warehouse"]
    assert wh.exists()
    assert not wh.with_name("health.candidate.duckdb").exists()
    assert query(wh, "select count(*) from marts.dim_accounts") == [(20,)]
    assert query(wh, "select reason, count(*) from quality.rejected_records group by 1") == [
        ("unknown_segment", 1)
    ]
    log = query(wh, "select outcome, failed_step, rows_rejected from quality.run_log")
    assert log == [("published", None, 1)]
    sidecar = [json.loads(x) for x in (wh.parent / "runs" / "run_log.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in sidecar] == ["published"]
    run_dir = wh.parent / "runs" / sidecar[0]["run_id"]
    for artifact in ("build_run_results.json", "freshness_sources.json", "load_info.json", "gx_result.json"):
        assert (run_dir / artifact).exists(), artifact
    assert (wh.parent / "data_docs" / "index.html").exists()
    gx_result = json.loads((run_dir / "gx_result.json").read_text())
    assert gx_result["validated"] == ["dim_accounts"]
    assert "fct_account_health_daily" in gx_result["skipped"]


def test_summary_reports_landed_rejected_reconciliation_and_steps(template):
    out = template["stdout"]
    assert "raw_crm.accounts" in out.split("rows landed:")[1].split("records rejected")[0]
    # 21 account rows and the one delivered event
    assert "records rejected: 1 (4.55% of raw rows; limit 5.00%)" in out
    assert "unknown_segment" in out
    assert "21 = 20 + 1  ok" in out  # reconciliation of raw_crm.accounts
    steps = out.split("elapsed:")[1]
    for step in ("inputs", "prepare", "load", "build", "freshness", "quality", "audit", "publish"):
        assert f"{step} " in steps
    # dbt unit tests belong to development and CI (tests/python/test_dbt_unit_tests.py), not a run
    assert "unit_tests" not in steps
    assert "total" in steps
    assert f"published: {template['root'] / 'wh' / 'health.duckdb'}" in out
    # this small project builds no event taxonomy and no alerts: nothing is claimed about them
    assert "key features:" not in out and "alerts per month" not in out


def _last_run_dir(site: dict) -> Path:
    sidecar = (site["warehouse"].parent / "runs" / "run_log.jsonl").read_text().splitlines()
    return site["warehouse"].parent / "runs" / json.loads(sidecar[-1])["run_id"]


def test_full_refresh_flag_reaches_the_dbt_build(published):
    site = published
    incremental_args = json.loads((_last_run_dir(site) / "build_run_results.json").read_text())["args"]
    assert not incremental_args.get("full_refresh")
    result = run_cli(run_args(site, "--full-refresh"), site["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    args = json.loads((_last_run_dir(site) / "build_run_results.json").read_text())["args"]
    assert args["which"] == "build" and args.get("full_refresh") is True
    assert query(site["warehouse"], "select count(*) from marts.dim_accounts") == [(20,)]


def test_failing_dbt_test_is_not_published(published):
    site = published
    before = file_sha(site["warehouse"])
    (site["project"] / "tests" / "assert_injected_failure.sql").write_text(
        "-- Always fails: proves a failing data test blocks the publish.\nselect 1 as failure\n"
    )
    result = run_cli(run_args(site), site["env"])
    assert result.returncode == 1
    assert "failed step: build" in result.stdout
    assert "assert_injected_failure" in result.stdout
    assert "not published" in result.stdout
    assert file_sha(site["warehouse"]) == before
    sidecar = (site["warehouse"].parent / "runs" / "run_log.jsonl").read_text().splitlines()
    last = json.loads(sidecar[-1])
    assert (last["outcome"], last["failed_step"]) == ("failed", "build")


def test_failing_expectation_is_not_published(published):
    site = published
    before = file_sha(site["warehouse"])
    mart = site["project"] / "models" / "marts" / "core" / "dim_accounts.sql"
    mart.write_text(mart.read_text().replace("% 100 as double", "% 100 + 150 as double"))
    result = run_cli(run_args(site), site["env"])
    assert result.returncode == 1
    assert "failed step: audit" in result.stdout
    assert "expect_column_values_to_be_between" in result.stdout and "health_score" in result.stdout
    assert file_sha(site["warehouse"]) == before


def test_rejected_share_above_limit_is_not_published(published):
    site = published
    before = file_sha(site["warehouse"])
    result = run_cli(run_args(site, "--max-rejected-share", "0.01"), site["env"])
    assert result.returncode == 1
    assert "failed step: quality" in result.stdout
    assert "above the limit of 1.00%" in result.stdout
    assert file_sha(site["warehouse"]) == before  # the template run published the same drop at 5%


def test_rollback_restores_the_previous_publish(published):
    site = published
    wh = site["warehouse"]
    first = mart_hashes(wh)
    more = make_drop(site["root"], accounts=25, bad=0, name="drop2")
    result = run_cli(["run", "--source-dir", str(more), "--warehouse", str(wh)], site["env"])
    assert result.returncode == 0, result.stderr
    second = mart_hashes(wh)
    assert second != first
    assert query(wh, "select count(*) from marts.dim_accounts") == [(25,)]
    assert run_cli(["rollback", "--warehouse", str(wh)], site["env"]).returncode == 0
    assert mart_hashes(wh) == first
    assert run_cli(["rollback", "--warehouse", str(wh)], site["env"]).returncode == 0  # and forward again
    assert mart_hashes(wh) == second
    status = run_cli(["status", "--warehouse", str(wh)], site["env"])
    assert "rolled_back" in status.stdout and "writer    : idle" in status.stdout


def _slow_model(project: Path, seconds: float) -> None:
    (project / "models" / "marts" / "core" / "slow_step.py").write_text(
        textwrap.dedent(
            f"""
            import time


            def model(dbt, session):
                # Test-only: keeps dbt build busy so that the test can act mid-build.
                time.sleep({seconds})
                return session.sql("select 1 as id")
            """
        )
    )


def _wait_for(predicate, timeout: float = 120, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def _build_started(warehouse: Path) -> bool:
    return any((warehouse.parent / "runs").glob("*/dbt.log"))


def test_sigkill_mid_build_leaves_published_intact_and_next_run_recovers(published):
    site = published
    wh = site["warehouse"]
    before = file_sha(wh)
    for log in (wh.parent / "runs").glob("*/dbt.log"):
        log.unlink()
    _slow_model(site["project"], 20)
    proc = subprocess.Popen(
        [*CLI, *run_args(site)],
        cwd=REPO,
        env=site["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _build_started(wh))
        time.sleep(2)  # inside dbt build (the slow model sleeps 20 s)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert file_sha(wh) == before
    assert wh.with_name("health.candidate.duckdb").exists()  # left behind by the killed run
    _slow_model(site["project"], 0)
    result = run_cli(run_args(site), site["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removing stale candidate" in result.stderr
    assert not wh.with_name("health.candidate.duckdb").exists()


def test_concurrent_run_fails_fast_and_a_second_run_changes_no_mart(published):
    site = published
    wh = site["warehouse"]
    marts_before = mart_hashes(wh)
    _slow_model(site["project"], 8)
    proc = subprocess.Popen(
        [*CLI, *run_args(site)],
        cwd=REPO,
        env=site["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from pipelines.publish import is_locked

        _wait_for(lambda: is_locked(wh.with_name("health.duckdb.lock")))
        before = file_sha(wh)
        started = time.monotonic()
        second = run_cli(run_args(site), site["env"])
        assert time.monotonic() - started < 15
        assert second.returncode == 3
        assert "warehouse busy" in second.stdout
        assert file_sha(wh) == before
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    finally:
        if proc.poll() is None:
            proc.kill()
    # the run that held the lock ran over the same drop: every mart is identical
    after = mart_hashes(wh)
    after.pop("slow_step")  # the test's own slow model
    assert after == marts_before
    assert query(wh, "select count(*) from raw_crm.accounts") == [(21,)]
    # the busy attempt started after the run that held the lock, and is in that run's log
    assert query(wh, "select outcome from quality.run_log order by started_at") == [
        ("published",),
        ("published",),
        ("busy",),
    ]


READER = """
import sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
import os
reads = errors = 0
while not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        con.execute("select count(*) from marts.dim_accounts").fetchone()
        con.close()
        reads += 1
    except Exception as exc:
        errors += 1
        print("ERROR", exc, flush=True)
    time.sleep(0.05)
print("READS", reads, "ERRORS", errors, flush=True)
"""


def test_reader_polling_across_a_full_run_sees_no_error(published):
    site = published
    wh = site["warehouse"]
    stop = site["root"] / "stop-reader"
    _slow_model(site["project"], 2)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(wh), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(0.5)
        more = make_drop(site["root"], accounts=30, bad=0, name="drop2")
        result = run_cli(["run", "--source-dir", str(more), "--warehouse", str(wh)], site["env"])
        assert result.returncode == 0, result.stdout + result.stderr
        time.sleep(0.5)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "READS" and int(last[1]) > 20, out
    assert last[3] == "0", out
    assert query(wh, "select count(*) from marts.dim_accounts") == [(30,)]


def test_step_commands_with_paths_from_environment(site):
    wh = site["warehouse"]
    env = dict(site["env"], ACCOUNT_HEALTH_SOURCE_DIR=str(site["drop"]), ACCOUNT_HEALTH_WAREHOUSE=str(wh))
    assert run_cli(["publish"], env).returncode == 1  # nothing built yet
    assert run_cli(["load"], env).returncode == 0
    assert not wh.exists()
    assert run_cli(["build"], env).returncode == 0
    assert not wh.exists()
    result = run_cli(["publish"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(wh, "select count(*) from marts.dim_accounts") == [(20,)]
    outcomes = query(wh, "select command, outcome from quality.run_log order by started_at")
    assert outcomes == [
        ("publish", "failed"),
        ("load", "loaded"),
        ("build", "built"),
        ("publish", "published"),
    ]


def test_bi_reads_the_published_marts_through_sqlalchemy_read_only(published):
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"duckdb:///{published['warehouse']}?access_mode=read_only")
    try:
        with engine.connect() as con:
            rows = con.execute(sqlalchemy.text("select count(*) from marts.dim_accounts")).scalar_one()
            assert rows == 20
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                con.execute(sqlalchemy.text("create table marts.scratch as select 1 as x"))
            con.rollback()
            tables = sqlalchemy.inspect(con).get_table_names(schema="marts")
            assert "dim_accounts" in tables
    finally:
        engine.dispose()


def test_app_command_serves_on_localhost_and_stops_with_the_cli(published):
    import socket
    import urllib.request

    if not (REPO / "reports" / "app.py").exists():
        pytest.skip("reports/app.py is not written yet")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(published["env"], ACCOUNT_HEALTH_PROJECT_DIR=str(REPO))
    proc = subprocess.Popen(
        [*CLI, "app", "--warehouse", str(published["warehouse"]), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    return response.read().decode() == "ok"
            except OSError:
                return False

        _wait_for(healthy, timeout=90, interval=0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    time.sleep(1)
    with socket.socket() as probe:  # the Streamlit child stopped with the CLI: nothing listens on the port
        # SO_REUSEADDR: connections the server closed linger in TIME_WAIT and would block a plain
        # bind; a socket still listening on the port makes this bind fail all the same.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
