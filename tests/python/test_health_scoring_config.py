"""The health scoring configuration (seeds/scoring_config.csv) is complete and consistent.

dbt's singular tests check the resolved weights of the selected version inside a build; this file
checks every version and segment of the seed offline, before a build, so a bad edit fails fast.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "scoring_config.csv"
PIVOT = ROOT / "models" / "intermediate" / "health" / "int_scoring_config_pivoted_to_segments.sql"
MODELS_YML = ROOT / "models" / "intermediate" / "health" / "_health__models.yml"

WEIGHT_SETS = {
    "health": ["recency", "adoption", "depth", "breadth", "cs_engagement"],
    "usage": ["recency", "adoption", "depth", "breadth"],
    "relationship": ["nps", "support", "cs_engagement", "sentiment"],
    "priority": ["health", "arr", "renewal"],
}


# Parameters whose value is a word, and the words each accepts; every other parameter is a number.
WORD_PARAMETERS = {"depth_method": {"absolute", "segment_percentile"}}
# On/off switches: 1 or 0.
SWITCHES = {"at_risk_relationship_decline"}


def _rows() -> list[dict[str, str]]:
    with SEED.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _resolved() -> dict[tuple[str, str], dict[str, float | str]]:
    """Parameters per (config_version, segment): the '*' default overlaid by the segment's rows."""
    by_key: dict[tuple[str, str], dict[str, float | str]] = defaultdict(dict)
    for row in _rows():
        name, value = row["parameter_name"], row["parameter_value"]
        by_key[(row["config_version"], row["segment"])][name] = (
            value if name in WORD_PARAMETERS else float(value)
        )
    resolved = {}
    for (version, segment), params in by_key.items():
        resolved[(version, segment)] = {**by_key[(version, "*")], **params}
    return resolved


def _pivot_parameters() -> set[str]:
    text = PIVOT.read_text()
    names = set()
    for start in ("set parameters = [", "set text_parameters = ["):
        block = text[text.index(start) : text.index("]", text.index(start))]
        names |= set(re.findall(r"'([a-z0-9_]+)'", block))
    return names


def test_every_version_has_a_default_row_for_each_parameter() -> None:
    rows = _rows()
    versions = {row["config_version"] for row in rows}
    for version in versions:
        defaults = {
            r["parameter_name"] for r in rows if r["config_version"] == version and r["segment"] == "*"
        }
        assert defaults == _pivot_parameters(), f"{version}: defaults differ from the pivot's parameters"


def test_every_seed_parameter_is_pivoted_and_documented() -> None:
    documented = set(re.findall(r"- name: ([a-z0-9_]+)", MODELS_YML.read_text()))
    for row in _rows():
        assert row["parameter_name"] in _pivot_parameters(), row
        assert row["parameter_name"] in documented, row
        assert row["description"].strip(), row


def test_no_parameter_is_given_twice() -> None:
    keys = [(r["config_version"], r["segment"], r["parameter_name"]) for r in _rows()]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("weight_set", sorted(WEIGHT_SETS))
def test_weights_sum_to_one_for_every_version_and_segment(weight_set: str) -> None:
    for key, params in _resolved().items():
        total = sum(params[f"{weight_set}_{part}_weight"] for part in WEIGHT_SETS[weight_set])
        assert total == pytest.approx(1.0), (key, weight_set, total)


def test_values_are_in_range() -> None:
    for key, params in _resolved().items():
        for name, value in params.items():
            if name in WORD_PARAMETERS:
                assert value in WORD_PARAMETERS[name], (key, name, value)
            elif name in SWITCHES:
                assert value in (0, 1), (key, name, value)
            elif name.endswith("_weight") or name.endswith("_ratio") or name.endswith("_share"):
                assert 0 <= value <= 1, (key, name, value)
            else:
                assert value >= 0, (key, name, value)
        assert params["healthy_threshold"] > params["alert_low_health_threshold"], key
