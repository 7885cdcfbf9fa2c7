"""CLI: python -m pipelines.demo --out DIR [--accounts N] [--days N] [--seed N] [--end-date D] ..."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from pipelines.demo.generator import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__)
    parser.add_argument("--out", required=True, help="directory to write the file drop to")
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--end-date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD, default today (UTC)"
    )
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl", dest="fmt")
    parser.add_argument("--no-bad-records", action="store_true", help="write a clean drop")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--workers", type=int, default=None, help="processes drawing event days")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    manifest = generate(
        args.out,
        accounts=args.accounts,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
        fmt=args.fmt,
        bad_records=not args.no_bad_records,
        progress=not args.no_progress,
        workers=args.workers,
    )
    json.dump(
        {"row_counts": manifest["row_counts"], "bad_records": manifest["bad_records"]}, sys.stdout, indent=2
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
