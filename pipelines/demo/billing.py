"""Stripe billing for the demo company: customers, subscriptions and an invoice for every period.

Seat changes (upgrades, downgrades) and add-on changes take effect at period boundaries, so every
invoice line is a plain recurring line for one full period (no prorations). Churn happens at a
renewal (a period end), driven by the account's trajectory; a churned account may come back later
on a new subscription (reactivation).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipelines.demo.company import (
    DECLINING,
    ENGAGED_USAGE,
    FRUSTRATED,
    STABLE,
    THRIVING,
    Accounts,
)

PLAN_BY_SEGMENT = ["starter", "growth", "enterprise"]
# Seat price per month in cents by plan; add-ons and platform fee per month in cents.
SEAT_MONTHLY_CENTS = {"starter": 2900, "growth": 4900, "enterprise": 7900}
ADDON_MONTHLY_CENTS = {"analytics_pack": 19900, "premium_support": 49900}
PLATFORM_MONTHLY_CENTS = 150000
# billing cadence label -> (interval, interval_count, price multiplier of the monthly price)
CADENCES = {"monthly": ("month", 1, 1.0), "quarterly": ("month", 3, 2.85), "annual": ("year", 1, 10.0)}
CADENCE_SHARE = {
    0: [0.80, 0.05, 0.15],
    1: [0.50, 0.05, 0.45],
    2: [0.10, 0.05, 0.85],
}
CADENCE_CUM = {seg: np.cumsum(share) for seg, share in CADENCE_SHARE.items()}
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


class StripeIds:
    """Stripe-shaped ids (`sub_1Q...`) from their own random stream, so ids never shift the data."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 7])
        self._buf = ""
        self._pos = 0

    def __call__(self, prefix: str, length: int = 14) -> str:
        # Characters come from a pre-drawn block (one numpy call per 1M characters, not per id).
        if self._pos + length > len(self._buf):
            self._buf = _B62[self.rng.integers(0, 62, size=1_000_000)].tobytes().decode()
            self._pos = 0
        out = self._buf[self._pos : self._pos + length]
        self._pos += length
        return prefix + "_1" + out


def _pick(rng: np.random.Generator, cum: np.ndarray) -> int:
    """One categorical draw from cumulative probabilities (rng.choice with p= is slow per call)."""
    return min(int(np.searchsorted(cum, rng.random(), side="right")), len(cum) - 1)


def add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """Stripe's billing-cycle arithmetic: same day of month as the anchor, clamped to month end."""
    y, m = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + y, m + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_end(anchor: dt.datetime, k: int, cadence: str) -> dt.datetime:
    interval, count, _ = CADENCES[cadence]
    return add_months(anchor, (k + 1) * count * (12 if interval == "year" else 1))


def price_object(plan: str, kind: str, item: str, cadence: str, cents_per_month: int) -> dict:
    interval, count, mult = CADENCES[cadence]
    return {
        "id": f"price_{plan}_{item}_{cadence}",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": "usd",
        "livemode": False,
        "metadata": {"kind": kind},
        "nickname": f"{plan.title()} {item.replace('_', ' ')} ({cadence})",
        "product": f"prod_{plan}_{item}",
        "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": int(round(cents_per_month * mult)),
    }


def _ts(x: dt.datetime) -> int:
    return int(x.timestamp())


@dataclass
class BillingResult:
    customers: list[dict]
    subscriptions: list[dict]
    invoices: list[dict]
    churn_day: np.ndarray  # day index the last subscription ended (large = not churned)
    seats_start: np.ndarray  # licensed seats at the window start (or at creation, when later)
    seat_changes: list[list[tuple[int, int]]]  # per account: (day, seat delta) inside the window
    react_day: np.ndarray  # day index of a reactivation (large = none)
    first_churn_day: np.ndarray
    cadence: list[str]
    seats_end: np.ndarray
    negative_lines: int
    void_invoices: int


# Churn at a renewal follows the account's latent state in the 30 days before the customer decides
# (the notice day): latent health = the mean of its usage (relative to ENGAGED_USAGE, capped at 1)
# and its relationship level. Accounts below about CHURN_MIDPOINT mostly cancel at the renewal,
# whatever their cadence; above it only a background churn remains (budget cuts, acquisitions),
# annual CHURN_BACKGROUND_BASE plus CHURN_BACKGROUND_PER_POOR_RELATIONSHIP x (1 - relationship),
# spread over the year's renewals.
CHURN_MIDPOINT = 0.33
CHURN_STEEPNESS = 0.05
CHURN_MAX_AT_RENEWAL = 0.85
CHURN_BACKGROUND_BASE = 0.02
CHURN_BACKGROUND_PER_POOR_RELATIONSHIP = 0.10
CHURN_LOOKBACK_DAYS = 30


def latent_health(acc: Accounts, usage: np.ndarray, rel: np.ndarray, a: int, day: int) -> tuple[float, float]:
    """(latent health, relationship) of account a over the CHURN_LOOKBACK_DAYS up to `day`."""
    lo = max(day - CHURN_LOOKBACK_DAYS + 1, int(acc.created_day[a]), 0)
    hi = max(day + 1, lo + 1)
    u = float(np.clip(usage[a, lo:hi] / ENGAGED_USAGE, 0.0, 1.0).mean())
    r = float(rel[a, lo:hi].mean())
    return 0.5 * u + 0.5 * r, r


def renewal_churn_probability(health: float, relationship: float, months: int) -> float:
    """Probability that an account in this latent state cancels at a renewal of a `months` period."""
    annual_background = CHURN_BACKGROUND_BASE + CHURN_BACKGROUND_PER_POOR_RELATIONSHIP * (1.0 - relationship)
    background = 1.0 - (1.0 - annual_background) ** (months / 12)
    decided = CHURN_MAX_AT_RENEWAL / (1.0 + np.exp((health - CHURN_MIDPOINT) / CHURN_STEEPNESS))
    return float(background + (1.0 - background) * decided)


def make_billing(
    rng: np.random.Generator,
    ids: StripeIds,
    acc: Accounts,
    usage: np.ndarray,
    window_start: dt.date,
    days: int,
    bad_records: bool,
    rel: np.ndarray | None = None,
) -> BillingResult:
    """Customers, subscriptions (current state) and invoices for every billing period up to end_date.

    `usage` and `rel` are the latent curves (company.trajectory_curves): they decide churn at
    renewals inside the window (see latent_health). Without `rel`, relationship counts as 0.65.
    """
    if rel is None:
        rel = np.full(usage.shape, 0.65, dtype=np.float32)
    ws = dt.datetime.combine(window_start, dt.time(), tzinfo=dt.UTC)
    end_excl = ws + dt.timedelta(days=days)

    def day_of(x: dt.datetime) -> int:
        return (x - ws).days

    customers, subscriptions, invoices = [], [], []
    churn_day = np.full(acc.n, 10**9, dtype=np.int64)
    first_churn = np.full(acc.n, 10**9, dtype=np.int64)
    react_day = np.full(acc.n, 10**9, dtype=np.int64)
    seats_end = np.zeros(acc.n, dtype=np.int64)
    seats_start = acc.seats0.astype(np.int64).copy()
    seat_changes: list[list[tuple[int, int]]] = [[] for _ in range(acc.n)]
    cadences: list[str] = []
    void_count = 0
    for a in range(acc.n):
        seg = int(acc.segment[a])
        plan = PLAN_BY_SEGMENT[seg]
        cadence = ["monthly", "quarterly", "annual"][_pick(rng, CADENCE_CUM[seg])]
        cadences.append(cadence)
        created = ws + dt.timedelta(days=int(acc.created_day[a]), seconds=int(acc.created_sec[a]))
        cus_id = ids("cus")
        customers.append(
            {
                "id": cus_id,
                "object": "customer",
                "created": _ts(created),
                "currency": "usd",
                "deleted": False,
                "description": acc.names[a],
                "email": f"billing@{acc.domains[a]}",
                "livemode": False,
                "metadata": {"account_id": f"acc_{a + 1:05d}"},
                "name": acc.names[a],
            }
        )
        can_churn = True
        tr = int(acc.trajectory[a])
        interval, count, _ = CADENCES[cadence]
        period_months = count * (12 if interval == "year" else 1)
        first_day = max(int(acc.created_day[a]), 0)
        # Items: seat always; platform fee for enterprise; add-ons by segment/trajectory.
        seats = int(acc.seats0[a])
        addons = {"premium_support": bool(seg == 2 and rng.random() < 0.6 or seg == 1 and rng.random() < 0.1)}
        addons["analytics_pack"] = bool(rng.random() < 0.15)
        expand_at = int(rng.integers(1, 6)) if tr in (THRIVING, FRUSTRATED) and rng.random() < 0.5 else -1
        sub_start = created
        reactivated_once = False
        while True:
            sub_id = ids("sub")
            item_ids = {
                "seat": ids("si"),
                "platform": ids("si"),
                **{k: ids("si") for k in ADDON_MONTHLY_CENTS},
            }
            k = 0
            ended_at = None
            canceled_at = None
            cancel_at_period_end = False
            items_now: list[tuple[str, dict, int]] = []
            while True:
                p_start = sub_start if k == 0 else period_end(sub_start, k - 1, cadence)
                p_end = period_end(sub_start, k, cadence)
                if p_start >= end_excl:
                    break
                seats_before = seats
                if k > 0:
                    change_p = {"monthly": 0.15, "quarterly": 0.3, "annual": 0.8}[cadence]
                    if rng.random() < change_p:
                        lo, hi = {
                            THRIVING: (1.05, 1.35),
                            DECLINING: (0.65, 0.95),
                            FRUSTRATED: (1.0, 1.2),
                            STABLE: (0.93, 1.1),
                        }.get(tr, (0.88, 1.06))
                        seats = max(1, int(round(seats * rng.uniform(lo, hi))))
                    if k == expand_at:
                        addons["analytics_pack"] = True
                    if tr == DECLINING and addons["analytics_pack"] and rng.random() < 0.2:
                        addons["analytics_pack"] = False
                start_day = day_of(p_start)
                if start_day <= first_day:
                    seats_start[a] = seats
                elif seats != seats_before:
                    seat_changes[a].append((start_day, seats - seats_before))
                items_now = [
                    (
                        item_ids["seat"],
                        price_object(plan, "seat", "seat", cadence, SEAT_MONTHLY_CENTS[plan]),
                        seats,
                    )
                ]
                if seg == 2:
                    items_now.append(
                        (
                            item_ids["platform"],
                            price_object(plan, "platform", "platform_fee", cadence, PLATFORM_MONTHLY_CENTS),
                            1,
                        )
                    )
                for name, on in addons.items():
                    if on:
                        items_now.append(
                            (
                                item_ids[name],
                                price_object(plan, "addon", name, cadence, ADDON_MONTHLY_CENTS[name]),
                                1,
                            )
                        )
                void_count += _invoices_for_period(
                    rng, ids, invoices, cus_id, sub_id, p_start, p_end, items_now, k
                )
                last_start, last_end = p_start, p_end
                # Churn at this renewal, decided on the notice day from the latent state before it
                # (renewals decided before the window are all renewed: the curves start with it).
                if can_churn and p_end > p_start and day_of(p_end) > first_day:
                    notice = max(p_start, p_end - dt.timedelta(days=int(rng.integers(3, 25))))
                    notice_day = day_of(notice)
                    if 0 <= notice_day < days:
                        health, relationship = latent_health(acc, usage, rel, a, notice_day)
                        if rng.random() < renewal_churn_probability(health, relationship, period_months):
                            if p_end < end_excl:
                                ended_at, canceled_at = p_end, notice
                            else:
                                canceled_at, cancel_at_period_end = notice, True
                            break
                k += 1
            status = "canceled" if ended_at is not None else "active"
            subscriptions.append(
                {
                    "id": sub_id,
                    "object": "subscription",
                    "billing_cycle_anchor": _ts(sub_start),
                    "cancel_at": _ts(last_end) if cancel_at_period_end else None,
                    "cancel_at_period_end": cancel_at_period_end,
                    "canceled_at": _ts(canceled_at) if canceled_at else None,
                    "collection_method": "charge_automatically",
                    "created": _ts(sub_start),
                    "currency": "usd",
                    "current_period_end": _ts(last_end),
                    "current_period_start": _ts(last_start),
                    "customer": cus_id,
                    "ended_at": _ts(ended_at) if ended_at else None,
                    "items": {
                        "object": "list",
                        "data": [
                            {
                                "id": si,
                                "object": "subscription_item",
                                "created": _ts(sub_start),
                                "current_period_end": _ts(last_end),
                                "current_period_start": _ts(last_start),
                                "metadata": {},
                                "price": price,
                                "quantity": qty,
                                "subscription": sub_id,
                            }
                            for si, price, qty in items_now
                        ],
                        "has_more": False,
                        "total_count": len(items_now),
                        "url": f"/v1/subscription_items?subscription={sub_id}",
                    },
                    "livemode": False,
                    "metadata": {"account_id": f"acc_{a + 1:05d}"},
                    "start_date": _ts(sub_start),
                    "status": status,
                }
            )
            seats_end[a] = seats if status == "active" else 0
            if ended_at is None:
                break
            cd = day_of(ended_at)
            churn_day[a] = cd
            first_churn[a] = min(first_churn[a], cd)
            gap = int(rng.integers(30, 91))
            if reactivated_once or rng.random() >= 0.2 or cd + gap >= days - 5:
                break
            reactivated_once = True
            react_day[a] = cd + gap
            churn_day[a] = 10**9
            sub_start = ws + dt.timedelta(days=cd + gap, seconds=int(rng.integers(8 * 3600, 18 * 3600)))
            new_seats = max(1, int(round(seats * rng.uniform(0.5, 0.9))))
            seat_changes[a].append((cd + gap, new_seats - seats))
            seats = new_seats
            can_churn = False
    negative = 0
    if bad_records and invoices:
        paid = [i for i, inv in enumerate(invoices) if inv["status"] == "paid"]
        n_bad = max(1, len(invoices) // 1500)
        for i in rng.choice(paid, size=min(n_bad, len(paid)), replace=False):
            inv = invoices[int(i)]
            line0 = inv["lines"]["data"][0]
            bad_price = dict(line0["price"], id="price_manual_adjustment", unit_amount=-5000)
            bad_price["metadata"] = {"kind": "addon"}
            inv["lines"]["data"].append(
                dict(line0, id=ids("il"), amount=-5000, quantity=1, price=bad_price, subscription_item=None)
            )
            inv["lines"]["total_count"] = len(inv["lines"]["data"])
            negative += 1
    return BillingResult(
        customers,
        subscriptions,
        invoices,
        churn_day,
        seats_start,
        seat_changes,
        react_day,
        first_churn,
        cadences,
        seats_end,
        negative,
        void_count,
    )


def _invoices_for_period(rng, ids, invoices, cus_id, sub_id, p_start, p_end, items, k) -> int:
    """Append the paid invoice for one period; occasionally a voided wrong draft first. Returns voids."""
    voids = 0
    drafts = []
    if rng.random() < 0.02:
        wrong = [(si, price, qty + 1) for si, price, qty in items]
        drafts.append(("void", wrong))
        voids = 1
    drafts.append(("paid", items))
    for status, its in drafts:
        lines = [
            {
                "id": ids("il"),
                "object": "line_item",
                "amount": qty * price["unit_amount"],
                "currency": "usd",
                "description": f"{qty} x {price['nickname']}",
                "livemode": False,
                "period": {"end": _ts(p_end), "start": _ts(p_start)},
                "price": price,
                "proration": False,
                "quantity": qty,
                "subscription": sub_id,
                "subscription_item": si,
                "type": "subscription",
            }
            for si, price, qty in its
        ]
        total = sum(line["amount"] for line in lines)
        invoices.append(
            {
                "id": ids("in"),
                "object": "invoice",
                "amount_due": total,
                "amount_paid": total if status == "paid" else 0,
                "billing_reason": "subscription_create" if k == 0 else "subscription_cycle",
                "created": _ts(p_start),
                "currency": "usd",
                "customer": cus_id,
                "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines)},
                "livemode": False,
                "period_end": _ts(p_end),
                "period_start": _ts(p_start),
                "status": status,
                "subscription": sub_id,
                "subtotal": total,
                "total": total,
            }
        )
    return voids
