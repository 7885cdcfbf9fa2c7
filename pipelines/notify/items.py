"""What there is to tell: alerts, expansion signals and weekly CSM digests read from the published marts.

Reads the CONTRACT columns of `marts.dim_accounts`, `fct_health_alerts`, `fct_expansion_signals`,
`fct_quadrant_movements` and `fct_account_health_daily` (component contributions, when published),
read-only, and tolerates extra columns. Each item carries what a person needs to act: the account,
its ARR, the rule with its numbers, the owner, a next step and a link to the account's page.
Unknown stays unknown: no ARR reads "unknown (no billing)", no owner reads "no CSM owner".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from pipelines.notify.config import WEEKDAYS, NotifyConfig

REQUIRED_MARTS = ("dim_accounts", "fct_health_alerts", "fct_expansion_signals", "fct_quadrant_movements")

# fct_account_health_daily: each component's change of points in health_score over 30 days
CONTRIBUTIONS = {
    "recency": "recency_contribution_30d",
    "adoption": "adoption_contribution_30d",
    "depth": "depth_contribution_30d",
    "breadth": "breadth_contribution_30d",
    "cs engagement": "cs_engagement_contribution_30d",
    "override": "override_contribution_30d",
}
# at-risk renewals in the weekly digest: renewing within this many days
DIGEST_RENEWAL_DAYS = 60
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class WarehouseError(RuntimeError):
    """The published warehouse cannot be read for notifications (missing file or mart)."""


@dataclass
class Item:
    """One thing to tell someone: an alert, a signal, or a CSM's weekly digest."""

    kind: str  # alert | signal | digest
    item_id: str
    item_type: str
    item_date: str  # ISO date
    title: str
    owner: str | None
    account_id: str | None = None
    account_name: str | None = None
    segment: str | None = None
    arr: float | None = None
    subscription_status: str | None = None
    severity: str | None = None
    rule: str | None = None
    evidence: str | None = None
    next_step: str | None = None
    url: str | None = None
    numbers: dict = field(default_factory=dict)
    sections: list[dict] = field(default_factory=list)  # digest only

    def as_json(self) -> dict:
        return asdict(self)


def account_url(config: NotifyConfig, account_id: str) -> str:
    """The account's page in the app (reports/app_pages/account_detail.py reads ?account_id=)."""
    return f"{config.app_base_url}/account_detail?account_id={quote(str(account_id), safe='')}"


def format_arr(arr, subscription_status: str | None = None) -> str:
    """ARR for a reader: unknown says so, and a 0 of a canceled subscription says why."""
    if arr is None:
        return "unknown (no billing)"
    text = f"{float(arr):,.0f}"
    if subscription_status and subscription_status != "active":
        text += f" (subscription {subscription_status})"
    return text


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _columns(con, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
        [table],
    ).fetchall()
    return {row[0] for row in rows}


def _iso(value) -> str | None:
    return None if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))


def _day(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass
class Marts:
    as_of: date
    window_start: date
    accounts: dict[str, dict]
    alerts: list[dict]
    signals: list[dict]
    moves: list[dict]
    daily: dict[tuple[str, date], dict]


def look_back_start(as_of: date, lookback_days: int, previous_as_of: date | None) -> date:
    """First day of the window: `lookback_days` ending on the as-of date, or on the previous run's
    as-of date when that is earlier (a gap between runs loses nothing)."""
    anchor = as_of if previous_as_of is None else min(as_of, previous_as_of)
    return anchor - timedelta(days=lookback_days - 1)


def read_marts(warehouse: Path, lookback_days: int, previous_as_of: date | None = None) -> Marts:
    """The marts notify needs, read-only; health rows only for the alert days of the window."""
    import duckdb  # here, not at module level: every CLI command imports this package

    if not warehouse.exists():
        raise WarehouseError(f"no published warehouse at {warehouse}: run `account-health run` first")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        missing = [name for name in REQUIRED_MARTS if name not in present]
        if missing:
            raise WarehouseError(f"{warehouse} does not publish marts.{', marts.'.join(missing)}")
        accounts = {row["account_id"]: row for row in _rows(con, "select * from marts.dim_accounts")}
        as_of = None
        if "as_of_date" in _columns(con, "dim_accounts"):
            as_of = con.execute("select max(as_of_date) from marts.dim_accounts").fetchone()[0]
        alerts = _rows(
            con, "select * from marts.fct_health_alerts order by alerted_on, account_id, alert_type"
        )
        signals = _rows(
            con, "select * from marts.fct_expansion_signals order by signaled_on, account_id, signal_type"
        )
        moves = _rows(
            con,
            "select * from marts.fct_quadrant_movements where needs_attention "
            "order by week_start, account_id",
        )
        if as_of is None:
            days = [_day(r["alerted_on"]) for r in alerts] + [_day(r["signaled_on"]) for r in signals]
            as_of = max(days) if days else None
        # an empty warehouse has nothing to tell: today only places an empty window
        as_of = _day(as_of) or datetime.now(UTC).date()
        since = look_back_start(as_of, lookback_days, previous_as_of)
        daily: dict[tuple[str, date], dict] = {}
        if "fct_account_health_daily" in present:
            wanted = ["account_id", "date_day", "health_score", "health_score_delta_30d"]
            have = _columns(con, "fct_account_health_daily")
            wanted += [column for column in CONTRIBUTIONS.values() if column in have]
            selected = ", ".join(f"daily.{c}" for c in wanted if c in have)
            for row in _rows(
                con,
                f"select {selected} from marts.fct_account_health_daily as daily "
                "inner join (select distinct account_id, alerted_on from marts.fct_health_alerts "
                "where alerted_on >= ?) as alerted "
                "on daily.account_id = alerted.account_id and daily.date_day = alerted.alerted_on",
                [since],
            ):
                daily[(row["account_id"], _day(row["date_day"]))] = row
        return Marts(as_of, since, accounts, alerts, signals, moves, daily)
    finally:
        con.close()


def _number(value) -> float | None:
    return None if value is None else float(value)


def health_evidence(daily: dict | None) -> tuple[str | None, dict]:
    """ "health 28, down 19 in 30 days: adoption -12, recency -7" from the day's health row."""
    if not daily or daily.get("health_score") is None:
        return None, {}
    health = float(daily["health_score"])
    numbers: dict = {"health_score": round(health, 1)}
    text = f"health {health:.0f}"
    delta = daily.get("health_score_delta_30d")
    if delta is not None:
        delta = float(delta)
        numbers["health_score_delta_30d"] = round(delta, 1)
        direction = "down" if delta < 0 else "up"
        text += f", {direction} {abs(delta):.0f} in 30 days" if round(delta) else ", unchanged in 30 days"
    moved = []
    for label, column in CONTRIBUTIONS.items():
        value = daily.get(column)
        if value is not None and round(float(value)) != 0:
            numbers[column] = round(float(value), 1)
            moved.append((float(value), label))
    # the biggest movers first, in the direction of the overall move
    moved.sort(key=lambda pair: pair[0] if (delta or 0) <= 0 else -pair[0])
    if moved:
        text += ": " + ", ".join(f"{label} {value:+.0f}" for value, label in moved)
    return text, numbers


SIGNAL_EVIDENCE = {
    "seat_utilisation": lambda v: f"{v:.0%} of licensed seats active in 30 days",
    "feature_gate_hits": lambda v: f"{v:,.0f} paywalled-feature hits in 30 days",
    "power_user_concentration": lambda v: f"one user makes {v:.0%} of the account's events",
    "quota_threshold": lambda v: f"{v:,.0f} quota-threshold events in 30 days",
    "healthy_no_contact": lambda v: f"healthy, no human CS touch for {v:,.0f} days",
}


def _account_fields(config: NotifyConfig, accounts: dict, account_id: str, fallback_arr=None) -> dict:
    account = accounts.get(account_id) or {}
    arr = account.get("arr") if account else fallback_arr
    return {
        "account_id": account_id,
        "account_name": account.get("account_name") or account_id,
        "segment": account.get("segment"),
        "arr": _number(arr),
        "owner": account.get("csm_owner"),
        "subscription_status": account.get("subscription_status"),
        "url": account_url(config, account_id),
    }


def alert_item(config: NotifyConfig, marts: Marts, row: dict) -> Item:
    fields = _account_fields(config, marts.accounts, row["account_id"], row.get("arr"))
    day = _day(row["alerted_on"])
    evidence, numbers = health_evidence(marts.daily.get((row["account_id"], day)))
    alert_type = str(row["alert_type"])
    return Item(
        kind="alert",
        item_id=str(row.get("alert_id") or f"{row['account_id']}|{alert_type}|{day}"),
        item_type=alert_type,
        item_date=day.isoformat(),
        title=f"{fields['account_name']}: {alert_type.replace('_', ' ')} ({row.get('severity') or 'alert'})",
        severity=row.get("severity"),
        rule=f"{alert_type}: {row.get('message') or 'no message published'}",
        evidence=evidence,
        next_step=config.next_step(alert_type),
        numbers=numbers,
        **fields,
    )


def signal_item(config: NotifyConfig, marts: Marts, row: dict) -> Item:
    fields = _account_fields(config, marts.accounts, row["account_id"])
    day = _day(row["signaled_on"])
    signal_type = str(row["signal_type"])
    value = _number(row.get("signal_value"))
    describe = SIGNAL_EVIDENCE.get(signal_type, lambda v: f"{signal_type} = {v:,.2f}")
    evidence = "value not published" if value is None else describe(value)
    return Item(
        kind="signal",
        item_id=str(row.get("signal_id") or f"{row['account_id']}|{signal_type}|{day}"),
        item_type=signal_type,
        item_date=day.isoformat(),
        title=f"{fields['account_name']}: expansion signal, {signal_type.replace('_', ' ')}",
        rule=f"{signal_type}: {evidence}",
        evidence=evidence,
        next_step=config.next_step(signal_type),
        numbers={"signal_value": value},
        **fields,
    )


def week_start(day: date, weekday: str = "monday") -> date:
    """The first day of the digest week holding `day` (weeks start on `weekday`)."""
    first = WEEKDAYS.index(weekday)
    return day - timedelta(days=(day.weekday() - first) % 7)


def _brief(item: Item) -> dict:
    return {
        "kind": item.kind,
        "type": item.item_type,
        "date": item.item_date,
        "account_id": item.account_id,
        "account_name": item.account_name,
        "arr": item.arr,
        "subscription_status": item.subscription_status,
        "text": item.rule + (f" ({item.evidence})" if item.evidence and item.kind == "alert" else ""),
        "url": item.url,
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def digest_items(config: NotifyConfig, marts: Marts, alerts: list[Item], signals: list[Item]) -> list[Item]:
    """One weekly review per CSM owner with a book: quadrant moves needing attention in the last 7
    days, at-risk renewals in the next 60 days, and the last 7 days' alerts and expansion signals."""
    week = week_start(marts.as_of, config.digest_weekday)
    recent = marts.as_of - timedelta(days=6)
    owners = sorted({a.get("csm_owner") for a in marts.accounts.values() if a.get("csm_owner")})
    items = []
    for owner in owners:
        book = {aid: a for aid, a in marts.accounts.items() if a.get("csm_owner") == owner}
        moves = []
        for move in marts.moves:
            scored = _day(move.get("scored_on") or move.get("week_start"))
            if move["account_id"] in book and scored is not None and scored >= recent:
                fields = _account_fields(config, marts.accounts, move["account_id"])
                moves.append(
                    {
                        "kind": "quadrant_move",
                        "type": "quadrant_move",
                        "date": scored.isoformat(),
                        "account_id": move["account_id"],
                        "account_name": fields["account_name"],
                        "arr": fields["arr"],
                        "subscription_status": fields["subscription_status"],
                        "text": f"moved from {move['from_quadrant']} to {move['to_quadrant']}",
                        "url": fields["url"],
                    }
                )
        renewals = []
        for account_id, account in sorted(book.items(), key=lambda kv: kv[1].get("days_to_renewal") or 0):
            days = account.get("days_to_renewal")
            if account.get("is_at_risk") and days is not None and days <= DIGEST_RENEWAL_DAYS:
                reason = account.get("at_risk_reason")
                health = account.get("health_score")
                text = (
                    f"renews {_iso(account.get('renewal_date'))} (in {days} days), "
                    f"health {'unknown' if health is None else f'{float(health):.0f}'}"
                )
                if reason:
                    text += f", at risk: {reason}"
                renewals.append(
                    {
                        "kind": "at_risk_renewal",
                        "type": "at_risk_renewal",
                        "date": _iso(account.get("renewal_date")),
                        "account_id": account_id,
                        "account_name": account.get("account_name") or account_id,
                        "arr": _number(account.get("arr")),
                        "subscription_status": account.get("subscription_status"),
                        "text": text,
                        "url": account_url(config, account_id),
                    }
                )
        new_alerts = [_brief(a) for a in alerts if a.account_id in book and a.item_date >= recent.isoformat()]
        new_signals = [
            _brief(s) for s in signals if s.account_id in book and s.item_date >= recent.isoformat()
        ]
        sections = [
            {"title": "Quadrant moves needing attention (last 7 days)", "entries": moves},
            {"title": f"At-risk renewals in the next {DIGEST_RENEWAL_DAYS} days", "entries": renewals},
            {"title": "New alerts (last 7 days)", "entries": new_alerts},
            {"title": "New expansion signals (last 7 days)", "entries": new_signals},
        ]
        at_risk_arr = sum(e["arr"] or 0 for e in renewals)
        items.append(
            Item(
                kind="digest",
                item_id=f"digest|{owner}|{week.isoformat()}",
                item_type="weekly_review",
                item_date=week.isoformat(),
                title=f"Weekly account review for {owner}, week of {week.isoformat()}",
                owner=owner,
                rule=(
                    f"{_count(len(moves), 'quadrant move')}, {_count(len(renewals), 'at-risk renewal')} "
                    f"(ARR {at_risk_arr:,.0f}), {_count(len(new_alerts), 'alert')}, "
                    f"{_count(len(new_signals), 'signal')}"
                ),
                next_step="Go through each account below in the Monday CS review; act within 24 hours "
                "on moves toward lower usage or relationship.",
                url=f"{config.app_base_url}/quadrant_review",
                numbers={
                    "quadrant_moves": len(moves),
                    "at_risk_renewals": len(renewals),
                    "at_risk_renewal_arr": at_risk_arr,
                    "alerts": len(new_alerts),
                    "signals": len(new_signals),
                },
                sections=sections,
            )
        )
    return items


def build_items(config: NotifyConfig, marts: Marts) -> list[Item]:
    alerts = [alert_item(config, marts, row) for row in marts.alerts]
    alerts.sort(key=lambda a: (a.item_date, SEVERITY_ORDER.get(a.severity or "", 3), a.item_id))
    signals = [signal_item(config, marts, row) for row in marts.signals]
    return alerts + signals + digest_items(config, marts, alerts, signals)
