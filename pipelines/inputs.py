"""Which inputs of the file drop (CONTRACT 1a) are present, empty or missing, checked before a run.

Two inputs are required: the product events and the CRM accounts. Without them there is nothing to
score, so a run stops here, before anything is built, naming what is missing. Every other input may be
absent or header-only: the run still publishes and its summary says which inputs were missing or
empty, because whatever depends on them reads as unknown.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.sources._files import _is_hidden

PRESENT = "present"
EMPTY = "empty"
MISSING = "missing"


@dataclass(frozen=True)
class Input:
    name: str  # as the contract names it
    folder: str
    patterns: tuple[str, ...]
    required: bool = False
    what: str = ""  # what reads as unknown without it


INPUTS = (
    Input("product/events", "product/events", ("*.jsonl", "*.jsonl.gz", "*.parquet"), True, "usage"),
    Input("crm/accounts.csv", "crm", ("accounts*.csv",), True, "accounts"),
    Input(
        "product/account_memberships.csv",
        "product",
        ("account_memberships*.csv",),
        what="users matched to accounts by other rules only",
    ),
    Input(
        "billing/customers.jsonl",
        "billing",
        ("customers*.jsonl", "customers*.jsonl.gz"),
        what="Stripe customers unknown",
    ),
    Input(
        "billing/subscriptions.jsonl",
        "billing",
        ("subscriptions*.jsonl", "subscriptions*.jsonl.gz"),
        what="ARR, MRR, seats and renewal dates unknown",
    ),
    Input(
        "billing/invoices.jsonl",
        "billing",
        ("invoices*.jsonl", "invoices*.jsonl.gz"),
        what="revenue history unknown",
    ),
    Input(
        "billing/prices.jsonl",
        "billing",
        ("prices*.jsonl", "prices*.jsonl.gz"),
        what="prices read from subscription items",
    ),
    Input(
        "crm/cs_activities.csv", "crm", ("cs_activities*.csv",), what="CS engagement and sentiment unknown"
    ),
    Input("crm/nps_responses.csv", "crm", ("nps_responses*.csv",), what="NPS unknown"),
    Input("crm/support_tickets.csv", "crm", ("support_tickets*.csv",), what="support friction unknown"),
    Input("crm/health_overrides.csv", "crm", ("health_overrides*.csv",), what="no CSM overrides"),
)


class MissingInputs(ValueError):
    """The drop lacks a required input, or holds no data at all."""


def _files(source_dir: Path, spec: Input) -> list[Path]:
    base = source_dir / spec.folder
    if not base.is_dir():
        return []
    found = {
        path
        for pattern in spec.patterns
        for path in base.glob(pattern)
        if path.is_file() and not _is_hidden(path.relative_to(base))
    }
    return sorted(found)


def _has_records(path: Path) -> bool:
    """Whether a data file holds at least one record. Reads only its first lines (or the Parquet
    footer), so a large drop costs nothing; an unreadable file counts as having records, because the
    loader quarantines what it cannot read and that must show."""
    name = path.name
    try:
        if name.endswith(".parquet"):
            return pq.read_metadata(path).num_rows > 0
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            needed = 2 if name.endswith(".csv") else 1  # a CSV's first line is its header
            seen = 0
            for line in handle:
                if line.strip().lstrip(b"\xef\xbb\xbf"):
                    seen += 1
                    if seen >= needed:
                        return True
            return False
    except (OSError, EOFError, zlib.error, ValueError):
        return True


def inventory(source_dir: Path) -> dict[str, str]:
    """{input name: present | empty | missing} for every input of the contract."""
    status: dict[str, str] = {}
    for spec in INPUTS:
        files = _files(source_dir, spec)
        if not files:
            status[spec.name] = MISSING
        elif any(_has_records(path) for path in files):
            status[spec.name] = PRESENT
        else:
            status[spec.name] = EMPTY
    return status


def check(source_dir: Path) -> dict[str, str]:
    """The inventory of `source_dir`; raises MissingInputs when a required input has no records."""
    if not source_dir.exists():
        raise MissingInputs(f"source folder {source_dir} does not exist")
    if not source_dir.is_dir():
        raise MissingInputs(f"source folder {source_dir} is not a folder")
    status = inventory(source_dir)
    if all(value == MISSING for value in status.values()):
        raise MissingInputs(f"source folder {source_dir} holds no data files of the drop (CONTRACT 1a)")
    absent = [spec for spec in INPUTS if spec.required and status[spec.name] != PRESENT]
    if absent:
        named = ", ".join(f"{spec.name} ({status[spec.name]})" for spec in absent)
        raise MissingInputs(
            f"source folder {source_dir} lacks required input(s): {named}. Events and accounts are "
            "required; every other input may be absent."
        )
    return status


def describe_gaps(status: dict[str, str]) -> list[str]:
    """One line per optional input that is missing or empty, with what reads as unknown without it."""
    lines = []
    for spec in INPUTS:
        state = status.get(spec.name)
        if state in (MISSING, EMPTY):
            lines.append(f"{spec.name:36} {state:8} {spec.what}")
    return lines
