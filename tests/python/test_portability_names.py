"""Names every engine accepts: PostgreSQL truncates nothing and refuses identifiers over 63 bytes.

dbt names a model's relation after the model and a unit test's temporary relation after the unit
test, so both must fit (docs/PORTABILITY.md). Fast: reads the project files, no database.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1


def _unit_test_names() -> list[str]:
    names = []
    for path in (REPO_ROOT / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        names += [test["name"] for test in document.get("unit_tests", []) or []]
    return names


def test_model_and_seed_names_fit_postgres_identifiers():
    files = list((REPO_ROOT / "models").rglob("*.sql")) + list((REPO_ROOT / "seeds").rglob("*.csv"))
    too_long = sorted(path.stem for path in files if len(path.stem) > MAX_IDENTIFIER)
    assert not too_long, f"names longer than {MAX_IDENTIFIER} characters: {too_long}"


def test_unit_test_names_fit_postgres_identifiers():
    names = _unit_test_names()
    too_long = sorted(f"{name} ({len(name)})" for name in names if len(name) > MAX_IDENTIFIER)
    assert not too_long, f"unit test names longer than {MAX_IDENTIFIER} characters: {too_long}"
