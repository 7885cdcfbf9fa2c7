"""Orchestrates the demo company: draws it, writes the CONTRACT 1a file drop, truth and manifest."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipelines.demo.billing import StripeIds, make_billing
from pipelines.demo.company import (
    SEGMENTS,
    TRAJECTORIES,
    adoption_curve,
    make_accounts,
    make_users,
    trajectory_curves,
)
from pipelines.demo.crm import HEADERS, accounts_rows, cs_rows, membership_rows
from pipelines.demo.events import EventWriter, build_vocab, make_specials

log = logging.getLogger(__name__)

BAD_RECORD_REASONS = [
    "duplicate_message_id",
    "unparseable_timestamp",
    "unknown_account",
    "malformed_json",
    "negative_amount",
    "nps_out_of_range",
    "unknown_account_crm",
]
TRUTH_HEADER = [
    "account_id",
    "segment",
    "trajectory",
    "created_at",
    "billing_cadence",
    "quiet_from",
    "champion_lost_on",
    "churned",
    "churn_date",
    "first_churn_date",
    "reactivated_on",
    "seats_start",
    "seats_end",
]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def _write_jsonl(path: Path, objects: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for obj in objects:
            fh.write(json.dumps(obj, separators=(",", ":")))
            fh.write("\n")
    return len(objects)


def generate(
    out_dir: str | Path,
    accounts: int = 400,
    days: int = 365,
    seed: int = 42,
    end_date: dt.date | str | None = None,
    fmt: str = "jsonl",
    bad_records: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> dict:
    """Write a complete demo file drop to out_dir and return its manifest.

    Deterministic: the same parameters (including end_date) give byte-identical files. end_date
    defaults to today (UTC) and events span [end_date - days + 1, end_date]. `workers` processes
    draw the event days (default: cores - 1, at most 4, on 4+ cores for 200+ accounts; else 1);
    the bytes do not depend on it.
    """
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"fmt must be jsonl or parquet, not {fmt!r}")
    if not 1 <= accounts <= 99_998:
        raise ValueError("accounts must be between 1 and 99998 (acc_99999 is reserved for bad records)")
    if days < 7:
        raise ValueError("days must be at least 7")
    if end_date is None:
        end_date = dt.datetime.now(dt.UTC).date()
    elif isinstance(end_date, str):
        end_date = dt.date.fromisoformat(end_date)
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window_start = end_date - dt.timedelta(days=days - 1)
    ws = dt.datetime.combine(window_start, dt.time(), tzinfo=dt.UTC)
    rng = np.random.default_rng(seed)
    ids = StripeIds(seed)

    acc = make_accounts(rng, accounts, days)
    usage, rel = trajectory_curves(rng, acc, days)
    breadth = adoption_curve(rng, acc, days)
    bill = make_billing(rng, ids, acc, usage, window_start, days, bad_records, rel=rel)
    day_idx = np.arange(days)[None, :]
    alive = (day_idx >= acc.created_day[:, None]) & ~(
        (day_idx >= bill.first_churn_day[:, None]) & (day_idx < bill.react_day[:, None])
    )
    # A reactivated account comes back and uses the product again, whatever its trajectory did.
    back = bill.react_day < days
    usage[back] = np.where(
        day_idx >= bill.react_day[back][:, None], np.maximum(usage[back], 0.6), usage[back]
    )
    usage *= alive
    users = make_users(rng, acc, days, seats_start=bill.seats_start, seat_changes=bill.seat_changes)

    counts: dict[str, int] = {}
    counts["crm/accounts.csv"] = _write_csv(
        out / "crm" / "accounts.csv",
        HEADERS["accounts"],
        accounts_rows(acc, ws, [c["id"] for c in bill.customers]),
    )
    counts["product/account_memberships.csv"] = _write_csv(
        out / "product" / "account_memberships.csv",
        HEADERS["account_memberships"],
        membership_rows(users, window_start),
    )
    crm_tables, crm_bad = cs_rows(rng, acc, users, usage, rel, alive, ws, days, bad_records)
    for name, rows in crm_tables.items():
        counts[f"crm/{name}.csv"] = _write_csv(out / "crm" / f"{name}.csv", HEADERS[name], rows)
    counts["billing/customers.jsonl"] = _write_jsonl(out / "billing" / "customers.jsonl", bill.customers)
    counts["billing/subscriptions.jsonl"] = _write_jsonl(
        out / "billing" / "subscriptions.jsonl", bill.subscriptions
    )
    counts["billing/invoices.jsonl"] = _write_jsonl(out / "billing" / "invoices.jsonl", bill.invoices)
    counts["billing/invoice_lines"] = sum(len(i["lines"]["data"]) for i in bill.invoices)

    vocab = build_vocab()
    specials = make_specials(rng, acc, users, alive, vocab, days)
    writer = EventWriter(
        rng=rng,
        acc=acc,
        users=users,
        usage=usage,
        breadth=breadth,
        specials=specials,
        vocab=vocab,
        window_start=window_start,
        days=days,
        out_dir=out,
        fmt=fmt,
        bad_records=bad_records,
    )
    show = progress and sys.stderr.isatty()
    if workers is None:
        # Parallel drawing pays off only with cores to spare beside the writing parent (on 2 cores the
        # transfer of each day's table costs more than it saves; benchmarks/results/NOTES.md) and once
        # a day holds tens of thousands of events.
        cores = os.cpu_count() or 1
        workers = min(cores - 1, 4) if cores >= 4 and accounts >= 200 else 1
    try:
        with tqdm(total=days, desc="events (days)", unit="day", disable=not show) as bar:
            writer.run(workers=workers, progress=bar.update)
    finally:
        writer.close()
    for key, value in writer.counts.items():
        counts[f"product/events/{key}"] = value

    _write_truth(out, acc, bill, window_start, ws)
    bad = {reason: 0 for reason in BAD_RECORD_REASONS}
    bad.update(writer.bad)
    bad.update(crm_bad)
    bad["negative_amount"] = bill.negative_lines
    manifest = {
        "generator": "pipelines.demo",
        "params": {
            "accounts": accounts,
            "days": days,
            "seed": seed,
            "end_date": end_date.isoformat(),
            "start_date": window_start.isoformat(),
            "format": fmt,
            "bad_records": bad_records,
        },
        "row_counts": counts,
        "bad_records": bad,
        "users": users.n,
        "void_invoices": bill.void_invoices,
        "trajectories": {str(t): int((acc.trajectory == i).sum()) for i, t in enumerate(TRAJECTORIES)},
        "churned_accounts": int((bill.churn_day < days).sum()),
        "reactivated_accounts": int((bill.react_day < days).sum()),
    }
    (out / "_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    log.info(
        "demo drop in %s: %d accounts, %d users, %d events in %.1fs (%.0f events/s)",
        out,
        accounts,
        users.n,
        writer.counts["messages"],
        elapsed,
        writer.counts["messages"] / max(elapsed, 1e-9),
    )
    return manifest


def _write_truth(out: Path, acc, bill, window_start: dt.date, ws: dt.datetime) -> None:
    """Ground truth per account, for validating health scores; not part of the drop."""

    def d(x: int) -> str:
        return (window_start + dt.timedelta(days=int(x))).isoformat() if x < 10**8 else ""

    rows = []
    for a in range(acc.n):
        rows.append(
            [
                f"acc_{a + 1:05d}",
                str(SEGMENTS[acc.segment[a]]),
                str(TRAJECTORIES[acc.trajectory[a]]),
                (
                    ws + dt.timedelta(days=int(acc.created_day[a]), seconds=int(acc.created_sec[a]))
                ).isoformat(),
                bill.cadence[a],
                d(acc.quiet_day[a]),
                d(acc.champion_lost_day[a]),
                "true" if bill.churn_day[a] < 10**8 else "false",
                d(bill.churn_day[a]),
                d(bill.first_churn_day[a]),
                d(bill.react_day[a]),
                int(acc.seats0[a]),
                int(bill.seats_end[a]),
            ]
        )
    _write_csv(out / "_truth" / "accounts.csv", TRUTH_HEADER, rows)
