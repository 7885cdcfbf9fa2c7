"""`account-health notify`: queue what is new in the outbox, then deliver what is pending.

1. Read the published marts and build the items: alerts, expansion signals, one weekly digest per
   CSM owner (keyed by the week of the data's as-of date, so it goes out once a week).
2. Items dated before the look-back window are marked seen and never sent; the window is the
   `lookback_days` ending on the as-of date, or on the previous run's as-of date when that is earlier,
   so a first run on a year of history does not flood anyone and a gap between runs loses nothing.
3. Each item in the window is queued once per matching route x recipient (idempotency key).
4. Pending deliveries are sent channel by channel; each outcome is committed before the next send.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.notify import channels as senders
from pipelines.notify import render
from pipelines.notify.config import NotifyConfig, Route
from pipelines.notify.items import Item, build_items, read_marts
from pipelines.notify.outbox import Outbox, locked_outbox, state_path

logger = logging.getLogger(__name__)

NOT_ATTEMPTED = "not attempted: the receiver was unreachable earlier in this run"


@dataclass
class NotifyResult:
    as_of: date | None = None
    window_start: date | None = None
    queued: int = 0
    marked_seen: int = 0
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by item kind
    deliveries_sent: int = 0
    pending: int = 0
    failed_now: int = 0
    retried: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.pending == 0 and self.failed_now == 0


def matches(route: Route, item: Item) -> bool:
    """Whether a route takes an item. Segment and ARR filters do not apply to a digest (a book spans
    segments); an unknown ARR does not pass a min_arr or max_arr filter."""
    if item.kind not in route.kinds:
        return False
    if route.types and item.item_type not in route.types:
        return False
    if route.owners and item.owner not in route.owners:
        return False
    if item.kind == "digest":
        return True
    if route.severities and item.severity not in route.severities:
        return False
    if route.segments and item.segment not in route.segments:
        return False
    if route.min_arr is not None and (item.arr is None or item.arr < route.min_arr):
        return False
    return not (route.max_arr is not None and (item.arr is None or item.arr > route.max_arr))


def recipients(route: Route, item: Item) -> list[str]:
    """Logical recipients: `owner:<csm_owner>` (resolved to an address at send time) or literals."""
    return sorted({f"owner:{item.owner or ''}" if to == "owner" else to for to in route.to})


def resolve_email(config: NotifyConfig, recipient: str) -> tuple[str | None, str | None, str | None]:
    """(address, display name, error) of a logical recipient for an email channel."""
    if recipient.startswith("owner:"):
        name = recipient.removeprefix("owner:")
        if not name:
            return None, None, "the account has no csm_owner: route it to a fixed address or set an owner"
        person = config.people.get(name)
        if person is None or not person.email:
            return None, name, f'no email address for csm_owner {name!r}: add [people."{name}"] email = ...'
        return person.email, name, None
    if "@" in recipient:
        return recipient, None, None
    person = config.people.get(recipient)
    if person and person.email:
        return person.email, recipient, None
    return None, recipient, f"{recipient!r} is neither an address nor a person with an email in [people]"


def _person(config: NotifyConfig, recipient: str) -> tuple[str | None, str | None, str | None]:
    """(name, email, slack mention) of a logical recipient for the HTTP channels."""
    name = recipient.removeprefix("owner:") if recipient.startswith("owner:") else recipient
    if "@" in name and name not in config.people:
        return None, name, None
    person = config.people.get(name)
    return (name or None), (person.email if person else None), (person.slack if person else None)


def queue(outbox: Outbox, config: NotifyConfig, items: list[Item], window_start: date) -> tuple[int, int]:
    """(queued, newly marked seen). Old items are marked seen unless they were ever queued."""
    with outbox.transaction():
        known = outbox.known_items()
        old = [i for i in items if i.item_date < window_start.isoformat() and i.item_id not in known]
        seen = outbox.mark_seen(old)
        queued = 0
        for item in items:
            if item.item_date < window_start.isoformat():
                continue
            for route in config.routes:
                if matches(route, item):
                    for recipient in recipients(route, item):
                        queued += outbox.enqueue(item, route.channel, recipient)
    return queued, seen


def _record(outbox: Outbox, result: NotifyResult, rows, outcome: senders.Outcome) -> None:
    keys = [row["idempotency_key"] for row in rows]
    if outcome.status == "sent":
        outbox.mark_sent(keys)
        result.deliveries_sent += len(keys)
        for row in rows:
            result.sent[row["item_kind"]] += 1
    else:
        outbox.mark_attempt(keys, outcome.status, outcome.error or outcome.status)
        if outcome.status == "failed":
            result.failed_now += len(keys)
            logger.warning("delivery failed for good (%s): %s", rows[0]["channel"], outcome.error)
        else:
            logger.warning("delivery pending (%s): %s", rows[0]["channel"], outcome.error)


def deliver_http(outbox: Outbox, config: NotifyConfig, channel, result: NotifyResult) -> None:
    rows = outbox.pending(channel.name)
    for index, row in enumerate(rows):
        item = json.loads(row["payload"])
        name, email, mention = _person(config, row["recipient"])
        if channel.type == "slack":
            body = render.slack_body(item, mention)
        else:
            body = render.webhook_body(item, row["idempotency_key"], {"name": name, "email": email})
        headers = dict(channel.headers, **{"Idempotency-Key": row["idempotency_key"]})
        outcome = senders.post_json(channel.url, body, headers, config.timeout_seconds)
        _record(outbox, result, [row], outcome)
        if not outcome.reachable:
            rest = [r["idempotency_key"] for r in rows[index + 1 :]]
            outbox.mark_attempt(rest, "pending", NOT_ATTEMPTED, count_attempt=False)
            result.messages.append(f"{channel.name}: {outcome.error}; {len(rest) + 1} left pending")
            return


def deliver_email(outbox: Outbox, config: NotifyConfig, channel, result: NotifyResult) -> None:
    by_recipient: dict[str, list] = defaultdict(list)
    for row in outbox.pending(channel.name):
        by_recipient[row["recipient"]].append(row)
    groups = sorted(by_recipient.items())
    for index, (recipient, rows) in enumerate(groups):
        address, name, error = resolve_email(config, recipient)
        if error:
            _record(outbox, result, rows, senders.Outcome("failed", error))
            continue
        keys = [row["idempotency_key"] for row in rows]
        message_id = f"<{hashlib.sha256(' '.join(sorted(keys)).encode()).hexdigest()[:32]}@account-health>"
        message = render.email_message(
            channel.sender, address, name, [json.loads(row["payload"]) for row in rows], message_id, keys
        )
        outcome = senders.send_email(
            channel.host,
            channel.port,
            message,
            username=channel.username,
            password=channel.password,
            starttls=channel.starttls,
            use_ssl=channel.ssl,
            timeout=config.timeout_seconds,
        )
        _record(outbox, result, rows, outcome)
        if not outcome.reachable:
            rest = [r["idempotency_key"] for _, later in groups[index + 1 :] for r in later]
            outbox.mark_attempt(rest, "pending", NOT_ATTEMPTED, count_attempt=False)
            result.messages.append(f"{channel.name}: {outcome.error}; digests left pending")
            return


def notify(
    warehouse: Path,
    config: NotifyConfig,
    state: Path | None = None,
    retry_failed: bool = False,
) -> NotifyResult:
    """Queue what is new and deliver what is pending; the outbox says what happened to each item."""
    state = state or state_path(warehouse)
    result = NotifyResult()
    with locked_outbox(state) as outbox:
        if retry_failed:
            result.retried = outbox.retry_failed()
        previous = outbox.get_meta("last_as_of")
        marts = read_marts(warehouse, config.lookback_days, previous and date.fromisoformat(previous))
        window_start = marts.window_start
        result.as_of, result.window_start = marts.as_of, window_start
        items = build_items(config, marts)
        result.queued, result.marked_seen = queue(outbox, config, items, window_start)
        for channel in config.channels.values():
            if channel.type == "email":
                deliver_email(outbox, config, channel, result)
            else:
                deliver_http(outbox, config, channel, result)
        configured = set(config.channels)
        orphans = [row for row in outbox.pending() if row["channel"] not in configured]
        if orphans:
            names = sorted({row["channel"] for row in orphans})
            result.messages.append(
                f"{len(orphans)} pending for channels not configured in this run: {', '.join(names)}"
            )
        result.pending = len(outbox.pending()) - len(orphans)
        newest = marts.as_of if previous is None else max(marts.as_of, date.fromisoformat(previous))
        outbox.set_meta("last_as_of", newest.isoformat())
        outbox.set_meta("last_run_at", datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def status_lines(warehouse: Path) -> list[str]:
    """`account-health status`: what the outbox holds, with the latest failures and their reasons."""
    state = state_path(warehouse)
    if not state.exists():
        return ["notifications: none sent yet (no outbox)"]
    try:
        outbox = Outbox(state, read_only=True)
        counts = outbox.counts()
    except sqlite3.Error as exc:
        return [f"notifications: outbox {state} unreadable: {exc}"]
    try:
        lines = [
            f"notifications: {counts['pending']} pending, {counts['failed']} failed, {counts['sent']} sent, "
            f"{counts['seen']} older items marked seen (outbox {state}, last run "
            f"{outbox.get_meta('last_run_at') or 'never'})"
        ]
        for status in ("failed", "pending"):
            for row in outbox.rows(status):
                lines.append(
                    f"  {status:8} {row['channel']} -> {row['recipient']}: {row['item_id']} "
                    f"(attempts {row['attempts']}) {(row['last_error'] or '')[:120]}"
                )
        if counts["failed"]:
            lines.append(
                "  failed deliveries wait for you: fix the cause, then `account-health notify --retry-failed`"
            )
        return lines
    finally:
        outbox.close()
