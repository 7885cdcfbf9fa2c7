"""Turn the RavenStack synthetic SaaS dataset into the warehouse's file drop (CONTRACT section 1a).

RavenStack dataset by River @ Rivalytics (Kaggle `rivalytics/saas-subscription-and-churn-analytics-dataset`).

    python examples/ravenstack/adapt.py --fixture DIR --out DROP_DIR [--as-of 2024-12-31]
                                        [--actor anonymous|subscription]

DIR is the dataset folder (the one holding `data/ravenstack_*.csv`, or those CSVs directly).
DROP_DIR must be empty or absent. Only the Python standard library is used, and the output is
byte-identical for the same input and options. README.md next to this file says what maps to what
and why; the constants below are the choices it describes.

What is written:
    product/events/YYYY-MM.jsonl   one Segment `track` per feature_usage row, by usage month
    billing/customers.jsonl        one Stripe Customer per account
    billing/subscriptions.jsonl    one Stripe Subscription per RavenStack subscription
    billing/invoices.jsonl         one Stripe Invoice per subscription per monthly period
    crm/accounts.csv               the contract columns (plus RavenStack's own, as extra columns)
    crm/support_tickets.csv        the contract columns (plus RavenStack's own, as extra columns)
    _manifest.json                 counts, options and the credit (a `_` file is not data)

Not written, because RavenStack has no such data: product/account_memberships.csv,
crm/cs_activities.csv, crm/nps_responses.csv, crm/health_overrides.csv.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

CREDIT = "RavenStack dataset by River @ Rivalytics"

# Segment (CONTRACT: one of smb, mid_market, enterprise) from the account's plan_tier.
SEGMENT_BY_PLAN_TIER = {"basic": "smb", "pro": "mid_market", "enterprise": "enterprise"}

# Every RavenStack subscription is billed in US dollars.
CURRENCY = "usd"

# Contract column order of the two CRM files, then the RavenStack columns kept as extra columns.
ACCOUNT_COLUMNS = [
    "account_id",
    "name",
    "domain",
    "segment",
    "industry",
    "csm_owner",
    "stripe_customer_id",
    "created_at",
]
ACCOUNT_EXTRA = ["country", "referral_source", "plan_tier", "seats", "is_trial", "churn_flag"]
TICKET_COLUMNS = ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "status"]
TICKET_EXTRA = [
    "resolution_time_hours",
    "first_response_time_minutes",
    "satisfaction_score",
    "escalation_flag",
]

FILES = {
    "accounts": "ravenstack_accounts.csv",
    "subscriptions": "ravenstack_subscriptions.csv",
    "feature_usage": "ravenstack_feature_usage.csv",
    "support_tickets": "ravenstack_support_tickets.csv",
}


class AdaptError(Exception):
    """The dataset does not have the shape this adapter expects."""


# ---------------------------------------------------------------------------------------------
# reading


def find_data_dir(fixture: Path) -> Path:
    for candidate in (fixture / "data", fixture):
        if all((candidate / name).is_file() for name in FILES.values()):
            return candidate
    raise AdaptError(f"{fixture}: no {', '.join(FILES.values())} (in it or in its data/ folder)")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text.strip())


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0", ""):
        return False
    raise AdaptError(f"not a boolean: {text!r}")


def flag(text: str) -> str:
    """RavenStack's True/False as Stripe metadata and CSV text: lower-case `true`/`false`."""
    return "true" if parse_bool(text) else "false"


def int_text(text: str) -> str:
    """A whole number written by pandas as `4.0` keeps its digits only; empty stays empty."""
    text = text.strip()
    if not text:
        return ""
    number = float(text)
    return str(int(number)) if number.is_integer() else text


# ---------------------------------------------------------------------------------------------
# ids and time


def hex_of(ravenstack_id: str) -> str:
    """`A-2e4581` -> `2e4581`: the random part of a RavenStack id."""
    prefix, _, rest = ravenstack_id.partition("-")
    if not rest or not prefix:
        raise AdaptError(f"unexpected RavenStack id {ravenstack_id!r}")
    return rest


def customer_id(account_id: str) -> str:
    return f"cus_rs{hex_of(account_id)}"


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def unix(day: dt.date) -> int:
    return int(midnight(day).timestamp())


def iso_z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(anchor: dt.date, months: int) -> dt.date:
    """Stripe's billing-cycle arithmetic: the anchor's day of month, clamped to the month's end."""
    years, month0 = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + years, month0 + 1
    return dt.date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def monthly_periods(start: dt.date, stop: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The monthly billing periods [start + k months, start + k+1 months) that begin before `stop`."""
    periods = []
    k = 0
    while True:
        begin = add_months(start, k)
        if begin >= stop:
            return periods
        periods.append((begin, add_months(start, k + 1)))
        k += 1


# ---------------------------------------------------------------------------------------------
# building the drop


def price_object(plan_tier: str, unit_amount_cents: int) -> dict:
    tier = plan_tier.strip().lower()
    trial = unit_amount_cents == 0
    return {
        "id": f"price_rs_{tier}_seat_{'trial' if trial else unit_amount_cents}",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": CURRENCY,
        "livemode": False,
        "metadata": {"kind": "seat", "plan_tier": plan_tier},
        "nickname": f"{plan_tier} seat ({'trial' if trial else 'monthly'})",
        "product": f"prod_rs_{tier}",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": unit_amount_cents,
    }


def seat_price_cents(sub: dict[str, str]) -> tuple[int, int]:
    """(seats, per-seat monthly price in cents): RavenStack's mrr_amount is seats x a per-seat price."""
    seats = int(sub["seats"])
    mrr_cents = round(float(sub["mrr_amount"]) * 100)
    if seats < 1 or mrr_cents < 0 or mrr_cents % seats:
        raise AdaptError(
            f"subscription {sub['subscription_id']}: mrr_amount {sub['mrr_amount']} is not a whole number "
            f"of cents per seat for {sub['seats']} seats"
        )
    return seats, mrr_cents // seats


def build_billing(
    accounts: list[dict[str, str]], subscriptions: list[dict[str, str]], as_of: dt.date
) -> tuple[list[dict], list[dict], list[dict]]:
    customers = [
        {
            "id": customer_id(acc["account_id"]),
            "object": "customer",
            "created": unix(parse_date(acc["signup_date"])),
            "currency": CURRENCY,
            "deleted": False,
            "description": acc["account_name"],
            "email": None,  # RavenStack has no e-mail addresses
            "livemode": False,
            "metadata": {"account_id": acc["account_id"], "country": acc["country"]},
            "name": acc["account_name"],
        }
        for acc in sorted(accounts, key=lambda a: a["account_id"])
    ]
    subs_out, invoices = [], []
    for sub in sorted(subscriptions, key=lambda s: s["subscription_id"]):
        sub_hex = hex_of(sub["subscription_id"])
        sub_id = f"sub_rs{sub_hex}"
        item_id = f"si_rs{sub_hex}"
        cus = customer_id(sub["account_id"])
        seats, unit_cents = seat_price_cents(sub)
        price = price_object(sub["plan_tier"], unit_cents)
        start = parse_date(sub["start_date"])
        end = parse_date(sub["end_date"]) if sub["end_date"].strip() else None
        is_trial = parse_bool(sub["is_trial"])
        if end is None:
            # Active: billed through the monthly period that contains as_of.
            periods = monthly_periods(start, as_of + dt.timedelta(days=1))
            status = "trialing" if is_trial else "active"
        else:
            # Ended on end_date: billed for every period that began before it; the warehouse stops
            # counting the last period on ended_at.
            periods = monthly_periods(start, end)
            status = "canceled"
        if periods:
            current_start, current_end = periods[-1]
        else:  # ended the day it started, or starts after as_of: never billed
            current_start, current_end = start, add_months(start, 1)
        metadata = {
            "account_id": sub["account_id"],
            "ravenstack_subscription_id": sub["subscription_id"],
            "plan_tier": sub["plan_tier"],
            "billing_frequency": sub["billing_frequency"],
            "is_trial": flag(sub["is_trial"]),
            "upgrade_flag": flag(sub["upgrade_flag"]),
            "downgrade_flag": flag(sub["downgrade_flag"]),
            "auto_renew_flag": flag(sub["auto_renew_flag"]),
        }
        subs_out.append(
            {
                "id": sub_id,
                "object": "subscription",
                "billing_cycle_anchor": unix(start),
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": unix(end) if end else None,
                "collection_method": "charge_automatically",
                "created": unix(start),
                "currency": CURRENCY,
                "current_period_end": unix(current_end),
                "current_period_start": unix(current_start),
                "customer": cus,
                "ended_at": unix(end) if end else None,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": item_id,
                            "object": "subscription_item",
                            "created": unix(start),
                            "current_period_end": unix(current_end),
                            "current_period_start": unix(current_start),
                            "metadata": {},
                            "price": price,
                            "quantity": seats,
                            "subscription": sub_id,
                        }
                    ],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "livemode": False,
                "metadata": metadata,
                "start_date": unix(start),
                "status": status,
                "trial_start": unix(start) if is_trial else None,
                "trial_end": None,  # RavenStack does not say when a trial ends
            }
        )
        for k, (p_start, p_end) in enumerate(periods):
            amount = unit_cents * seats
            invoices.append(
                {
                    "id": f"in_rs{sub_hex}_{k:03d}",
                    "object": "invoice",
                    "amount_due": amount,
                    "amount_paid": amount,
                    "billing_reason": "subscription_create" if k == 0 else "subscription_cycle",
                    "created": unix(p_start),
                    "currency": CURRENCY,
                    "customer": cus,
                    "lines": {
                        "object": "list",
                        "data": [
                            {
                                "id": f"il_rs{sub_hex}_{k:03d}",
                                "object": "line_item",
                                "amount": amount,
                                "currency": CURRENCY,
                                "description": f"{seats} x {price['nickname']}",
                                "livemode": False,
                                "period": {"end": unix(p_end), "start": unix(p_start)},
                                "price": price,
                                "proration": False,
                                "quantity": seats,
                                "subscription": sub_id,
                                "subscription_item": item_id,
                                "type": "subscription",
                            }
                        ],
                        "has_more": False,
                        "total_count": 1,
                    },
                    "livemode": False,
                    "period_end": unix(p_end),
                    "period_start": unix(p_start),
                    "status": "paid",
                    "subscription": sub_id,
                    "subtotal": amount,
                    "total": amount,
                }
            )
    invoices.sort(key=lambda inv: (inv["created"], inv["id"]))
    return customers, subs_out, invoices


def build_events(
    usage: list[dict[str, str]], account_of_subscription: dict[str, str], actor: str
) -> dict[str, list[dict]]:
    """Segment track messages by usage month (`YYYY-MM`), in (date, usage_id, file row) order.

    The usage_id is the messageId: a usage_id repeated with other content is passed through as it
    is, for the warehouse to reject as a duplicate message.
    """
    rows = sorted(enumerate(usage), key=lambda pair: (pair[1]["usage_date"], pair[1]["usage_id"], pair[0]))
    by_month: dict[str, list[dict]] = defaultdict(list)
    for _, row in rows:
        day = parse_date(row["usage_date"])
        subscription = row["subscription_id"]
        if subscription not in account_of_subscription:
            raise AdaptError(f"usage {row['usage_id']}: unknown subscription {subscription}")
        message = {
            "messageId": row["usage_id"],
            "type": "track",
        }
        if actor == "subscription":
            message["userId"] = subscription
        else:
            message["anonymousId"] = subscription
        message.update(
            {
                "event": f"{row['feature_name']}.used",
                "timestamp": iso_z(midnight(day)),
                "context": {
                    "groupId": account_of_subscription[subscription],
                    "library": {"name": "ravenstack-adapter"},
                },
                "properties": {
                    "feature": row["feature_name"],
                    "usage_count": int(row["usage_count"]),
                    "usage_duration_secs": int(row["usage_duration_secs"]),
                    "error_count": int(row["error_count"]),
                    "is_beta_feature": parse_bool(row["is_beta_feature"]),
                    "subscription_id": subscription,
                },
            }
        )
        by_month[f"{day:%Y-%m}"].append(message)
    return dict(by_month)


def build_accounts_csv(accounts: list[dict[str, str]]) -> list[list[str]]:
    rows = [ACCOUNT_COLUMNS + ACCOUNT_EXTRA]
    for acc in sorted(accounts, key=lambda a: a["account_id"]):
        tier = acc["plan_tier"].strip().lower()
        if tier not in SEGMENT_BY_PLAN_TIER:
            raise AdaptError(f"account {acc['account_id']}: unknown plan_tier {acc['plan_tier']!r}")
        rows.append(
            [
                acc["account_id"],
                acc["account_name"],
                "",  # domain: RavenStack has none
                SEGMENT_BY_PLAN_TIER[tier],
                acc["industry"],
                "",  # csm_owner: RavenStack has none
                customer_id(acc["account_id"]),
                iso_z(midnight(parse_date(acc["signup_date"]))),
                acc["country"],
                acc["referral_source"],
                acc["plan_tier"],
                acc["seats"],
                flag(acc["is_trial"]),
                flag(acc["churn_flag"]),
            ]
        )
    return rows


def ticket_time(text: str) -> str:
    """`2024-07-08` (a date: midnight UTC) or `2024-07-09 03:00:00` (UTC) -> ISO 8601 with Z."""
    text = text.strip()
    if not text:
        return ""
    if len(text) == 10:
        return iso_z(midnight(parse_date(text)))
    return iso_z(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))


def build_tickets_csv(tickets: list[dict[str, str]]) -> list[list[str]]:
    rows = [TICKET_COLUMNS + TICKET_EXTRA]
    for t in sorted(tickets, key=lambda r: r["ticket_id"]):
        closed = ticket_time(t["closed_at"])
        rows.append(
            [
                t["ticket_id"],
                t["account_id"],
                ticket_time(t["submitted_at"]),
                closed,
                t["priority"].strip().lower(),
                "closed" if closed else "open",
                t["resolution_time_hours"],
                int_text(t["first_response_time_minutes"]),
                int_text(t["satisfaction_score"]),
                flag(t["escalation_flag"]),
            ]
        )
    return rows


# ---------------------------------------------------------------------------------------------
# writing


def dumps(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def write_jsonl(path: Path, objects: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for obj in objects:
            handle.write(dumps(obj) + "\n")


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def adapt(fixture: Path, out: Path, as_of: dt.date | None = None, actor: str = "anonymous") -> dict:
    """Write the drop into `out` (empty or absent) and return the manifest written with it."""
    if actor not in ("anonymous", "subscription"):
        raise AdaptError(f"--actor must be anonymous or subscription, not {actor!r}")
    if out.exists() and any(out.iterdir()):
        raise AdaptError(f"{out} is not empty; write the drop into a new folder")
    data = find_data_dir(fixture)
    accounts = read_csv(data / FILES["accounts"])
    subscriptions = read_csv(data / FILES["subscriptions"])
    usage = read_csv(data / FILES["feature_usage"])
    tickets = read_csv(data / FILES["support_tickets"])

    latest = max(
        [parse_date(s["start_date"]) for s in subscriptions]
        + [parse_date(s["end_date"]) for s in subscriptions if s["end_date"].strip()]
        + [parse_date(u["usage_date"]) for u in usage]
        + [parse_date(t["submitted_at"][:10]) for t in tickets]
    )
    as_of = as_of or latest

    account_of_subscription = {s["subscription_id"]: s["account_id"] for s in subscriptions}
    customers, subs, invoices = build_billing(accounts, subscriptions, as_of)
    events = build_events(usage, account_of_subscription, actor)

    out.mkdir(parents=True, exist_ok=True)
    for month in sorted(events):
        write_jsonl(out / "product" / "events" / f"{month}.jsonl", events[month])
    write_jsonl(out / "billing" / "customers.jsonl", customers)
    write_jsonl(out / "billing" / "subscriptions.jsonl", subs)
    write_jsonl(out / "billing" / "invoices.jsonl", invoices)
    write_csv(out / "crm" / "accounts.csv", build_accounts_csv(accounts))
    write_csv(out / "crm" / "support_tickets.csv", build_tickets_csv(tickets))

    active = [s for s in subscriptions if not s["end_date"].strip()]
    manifest = {
        "credit": CREDIT,
        "source": "Kaggle rivalytics/saas-subscription-and-churn-analytics-dataset (RavenStack)",
        "as_of": as_of.isoformat(),
        "actor": actor,
        "counts": {
            "accounts": len(accounts),
            "subscriptions": len(subs),
            "active_subscriptions": len(active),
            "invoices": len(invoices),
            "events": sum(len(v) for v in events.values()),
            "event_files": len(events),
            "support_tickets": len(tickets),
        },
        "active_mrr": sum(round(float(s["mrr_amount"]) * 100) for s in active) / 100,
        "not_written": [
            "product/account_memberships.csv",
            "crm/cs_activities.csv",
            "crm/nps_responses.csv",
            "crm/health_overrides.csv",
        ],
    }
    manifest["expected_arr"] = manifest["active_mrr"] * 12
    (out / "_manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True, type=Path, help="the RavenStack dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="the file drop to write (empty or absent)")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="the date the drop is exported on: active subscriptions are billed through the period "
        "that contains it (default: the latest date in the dataset, 2024-12-31)",
    )
    parser.add_argument(
        "--actor",
        choices=["anonymous", "subscription"],
        default="anonymous",
        help="who a usage event is from: `anonymous` (default) sends the subscription id as anonymousId "
        "and no userId (RavenStack has no users); `subscription` sends it as userId, so that every "
        "subscription counts as one 'user' in the active-user figures",
    )
    args = parser.parse_args(argv)
    try:
        manifest = adapt(args.fixture, args.out, args.as_of, args.actor)
    except AdaptError as error:
        print(f"adapt.py: {error}", file=sys.stderr)
        return 2
    counts = manifest["counts"]
    print(
        f"wrote {args.out}: {counts['accounts']} accounts, {counts['subscriptions']} subscriptions "
        f"({counts['active_subscriptions']} active, MRR {manifest['active_mrr']:,.2f}), "
        f"{counts['invoices']} invoices, {counts['events']} events in {counts['event_files']} files, "
        f"{counts['support_tickets']} tickets; as of {manifest['as_of']}"
    )
    print(CREDIT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
