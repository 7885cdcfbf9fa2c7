"""Every dbt unit test of the project, on its own hand-computed fixtures.

Unit tests are development and CI checks of the models' logic: `account-health run` never runs them
on a customer's warehouse (they read the raw schema of the warehouse they run on, so a company's
data could fail them without anything being wrong). Here they run on the test drop's landed raw
tables, with the seeds loaded and every model built empty first: a unit test of an incremental
model reads the column types of the model's own relation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbt_support import dbt_command

from pipelines.load import load_drop

pytestmark = pytest.mark.slow

DROP = Path(__file__).resolve().parent / "fixtures" / "drop_small"


def test_every_unit_test_passes(tmp_path):
    warehouse = tmp_path / "unit.duckdb"
    load_drop(DROP, warehouse, progress=False, pipelines_dir=str(tmp_path / "dlt"))
    dbt_command(tmp_path, warehouse, "build", "--empty", "--exclude-resource-type", "test", "unit_test")
    dbt_command(tmp_path, warehouse, "test", "--select", "test_type:unit")

    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = [r["status"] for r in results]
    # the project has some sixty unit tests; a selection that found none would prove nothing
    assert len(statuses) >= 50
    assert set(statuses) == {"pass"}
