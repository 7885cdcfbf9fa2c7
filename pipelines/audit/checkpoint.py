"""Run the publish gate: one great-expectations checkpoint per mart on pandas DataFrames.

GX's SQL datasource does not work on DuckDB (it reads results after the connection closed), so each
mart is read read-only from the candidate file into a DataFrame and validated with GX's pandas
engine. Marts that are not built yet are skipped with a logged note; an expected mart missing from
a candidate whose previous publish had it is a failure (a model was lost).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.audit.suite import MART_CHECKS, build_expectations

logger = logging.getLogger(__name__)

SITE_NAME = "account_health_audit"


@dataclass
class AuditResult:
    success: bool
    failures: list[str] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    data_docs: str | None = None

    def describe(self) -> str:
        return "audit failed: " + "; ".join(self.failures[:10])


def _mart_tables(path: Path) -> dict[str, int]:
    """Row count of every table in schema `marts` of a DuckDB file, opened read-only."""
    import duckdb

    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        return {name: con.execute(f'select count(*) from marts."{name}"').fetchone()[0] for name in names}
    finally:
        con.close()


def _read_marts(path: Path, names: list[str]) -> dict:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {name: con.execute(f'select * from marts."{name}"').df() for name in names}
    finally:
        con.close()


def _describe_failure(mart: str, expectation_result) -> str:
    config = expectation_result.expectation_config
    kwargs = {
        k: v for k, v in config.kwargs.items() if k in ("column", "column_A", "column_B", "column_list")
    }
    detail = ""
    info = expectation_result.exception_info or {}
    if info.get("raised_exception"):
        detail = " raised " + str(info.get("exception_message", ""))[:200]
    else:
        observed = (expectation_result.result or {}).get("observed_value")
        unexpected = (expectation_result.result or {}).get("unexpected_count")
        if observed is not None:
            detail = f" observed {observed}"
        elif unexpected is not None:
            detail = f" unexpected {unexpected}"
    return f"{mart}: {config.type} {kwargs}{detail}"


def run_audit(candidate: Path, published: Path, settings, run_dir: Path | None = None) -> AuditResult:
    """Validate the candidate's marts; write the GX result to run_dir and Data Docs beside the warehouse."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    candidate_rows = _mart_tables(candidate)
    previous_rows = _mart_tables(published)
    result = AuditResult(success=True)

    for name in MART_CHECKS:
        if name not in candidate_rows:
            if name in previous_rows:
                result.failures.append(
                    f"{name}: mart missing from the candidate but present in the published file"
                )
            else:
                logger.info("audit: mart %s not built yet; skipped", name)
                result.skipped.append(name)
    present = [name for name in MART_CHECKS if name in candidate_rows]
    frames = _read_marts(candidate, present)

    context = gx.get_context(mode="ephemeral")
    with contextlib.suppress(Exception):  # progress bars are cosmetic
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    docs_dir = settings.data_docs_dir
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=SITE_NAME,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    datasource = context.data_sources.add_pandas("marts")
    described = {}
    for name in present:
        asset = datasource.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe("whole_table")
        suite = context.suites.add(gx.ExpectationSuite(name=f"marts.{name}"))
        for expectation in build_expectations(MART_CHECKS[name], previous_rows.get(name), settings):
            suite.add_expectation(expectation)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"audit_{name}", data=batch, suite=suite)
        )
        # no UpdateDataDocsAction: it rebuilds the whole site after each mart (half the audit's
        # time); the site is built once below from every stored result
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name=f"publish_gate_{name}", validation_definitions=[validation])
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frames[name]})
        described[name] = outcome.describe_dict()
        result.validated.append(name)
        for run_result in outcome.run_results.values():
            for expectation_result in run_result.results:
                if not expectation_result.success:
                    result.failures.append(_describe_failure(name, expectation_result))
    context.build_data_docs(site_names=[SITE_NAME])
    result.success = not result.failures
    result.data_docs = str(docs_dir / "index.html")
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        summary = {
            "success": result.success,
            "failures": result.failures,
            "validated": result.validated,
            "skipped": result.skipped,
            "candidate_rows": candidate_rows,
            "previous_rows": previous_rows,
            "checkpoints": described,
        }
        (run_dir / "gx_result.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    logger.info(
        "audit: %d marts validated, %d skipped, %d failed expectations",
        len(result.validated),
        len(result.skipped),
        len(result.failures),
    )
    return result
