"""Messages a person can act on: the same facts for Slack, a JSON webhook (a CRM task) and email.

Every alert or signal names the account, its ARR, the rule that fired with its numbers, the owner and
the next step, and links to the account's page; a digest lists the CSM's week, each line with a link.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from pipelines.notify.items import format_arr

KIND_LABEL = {"alert": "Alert", "signal": "Expansion signal", "digest": "Weekly review"}


def _owner(item: dict, mention: str | None = None) -> str:
    owner = item.get("owner")
    if not owner:
        return "no CSM owner"
    return f"{mention} ({owner})" if mention else owner


def entry_line(entry: dict) -> str:
    arr = format_arr(entry.get("arr"), entry.get("subscription_status"))
    day = entry.get("date") or ""
    return f"- {entry['account_name']} (ARR {arr}): {entry['text']} [{day}]\n  {entry['url']}"


def item_text(item: dict, mention: str | None = None) -> str:
    """Plain text of one item, for an email section, a Slack message or a task body."""
    lines = [f"{KIND_LABEL.get(item['kind'], item['kind'])}: {item['title']}"]
    if item["kind"] == "digest":
        lines.append(f"Owner: {_owner(item, mention)}. {item['rule']}.")
        for section in item.get("sections") or []:
            lines.append("")
            lines.append(f"{section['title']}: {len(section['entries'])}")
            lines.extend(entry_line(entry) for entry in section["entries"])
            if not section["entries"]:
                lines.append("- none")
        lines.append("")
        lines.append(f"Next step: {item['next_step']}")
        lines.append(f"Quadrant review: {item['url']}")
        return "\n".join(lines)
    lines.append(
        f"Account: {item['account_name']} ({item['account_id']}), segment {item.get('segment') or 'unknown'}"
    )
    lines.append(f"ARR: {format_arr(item.get('arr'), item.get('subscription_status'))}")
    lines.append(f"Rule: {item['rule']}")
    if item.get("evidence") and item["kind"] == "alert":
        lines.append(f"Numbers: {item['evidence']}")
    lines.append(f"Owner: {_owner(item, mention)}")
    lines.append(f"Date: {item['item_date']}")
    lines.append(f"Next step: {item['next_step']}")
    lines.append(f"Account page: {item['url']}")
    return "\n".join(lines)


def slack_body(item: dict, mention: str | None = None) -> dict:
    """A Slack incoming-webhook message: `text` in mrkdwn (Slack links are <url|label>)."""
    if item["kind"] == "digest":
        lines = [f"*{item['title']}*", f"{_owner(item, mention)}: {item['rule']}."]
        for section in item.get("sections") or []:
            lines.append(f"\n*{section['title']}*: {len(section['entries'])}")
            for entry in section["entries"]:
                arr = format_arr(entry.get("arr"), entry.get("subscription_status"))
                lines.append(f"• <{entry['url']}|{entry['account_name']}> (ARR {arr}): {entry['text']}")
        lines.append(f"\n_Next step:_ {item['next_step']}")
        return {"text": "\n".join(lines)}
    icon = ":rotating_light:" if item["kind"] == "alert" else ":chart_with_upwards_trend:"
    lines = [
        f"{icon} *<{item['url']}|{item['account_name']}>* {KIND_LABEL[item['kind']].lower()}: "
        f"{item['item_type'].replace('_', ' ')}" + (f" ({item['severity']})" if item.get("severity") else ""),
        f"*Rule:* {item['rule']}",
    ]
    if item.get("evidence") and item["kind"] == "alert":
        lines.append(f"*Numbers:* {item['evidence']}")
    arr = format_arr(item.get("arr"), item.get("subscription_status"))
    lines.append(
        f"*ARR* {arr} · *segment* {item.get('segment') or 'unknown'} · "
        f"*owner* {_owner(item, mention)} · {item['item_date']}"
    )
    lines.append(f"*Next step:* {item['next_step']}")
    return {"text": "\n".join(lines)}


def webhook_body(item: dict, key: str, assignee: dict) -> dict:
    """A generic JSON body, shaped as a CRM task (subject, body, assignee) with the raw facts."""
    return {
        "idempotency_key": key,
        "kind": item["kind"],
        "type": item["item_type"],
        "item_id": item["item_id"],
        "occurred_on": item["item_date"],
        "subject": item["title"],
        "body": item_text(item),
        "assignee": assignee,
        "account": None
        if item["kind"] == "digest"
        else {
            "id": item["account_id"],
            "name": item["account_name"],
            "segment": item.get("segment"),
            "arr": item.get("arr"),
            "subscription_status": item.get("subscription_status"),
            "owner": item.get("owner"),
        },
        "severity": item.get("severity"),
        "rule": item.get("rule"),
        "evidence": item.get("evidence"),
        "numbers": item.get("numbers") or {},
        "next_step": item.get("next_step"),
        "url": item.get("url"),
        "sections": item.get("sections") or [],
    }


def email_message(
    sender: str, to: str, name: str | None, items: list[dict], message_id: str, keys: list[str]
) -> EmailMessage:
    """One digest email for one recipient: the weekly review(s) first, then alerts and signals."""
    counts = {kind: sum(1 for i in items if i["kind"] == kind) for kind in KIND_LABEL}
    parts = []
    if counts["digest"]:
        parts.append("weekly review")
    if counts["alert"]:
        parts.append(f"{counts['alert']} alert{'s' if counts['alert'] != 1 else ''}")
    if counts["signal"]:
        parts.append(f"{counts['signal']} expansion signal{'s' if counts['signal'] != 1 else ''}")
    message = EmailMessage()
    message["Subject"] = "Account health: " + ", ".join(parts)
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    # deterministic: a resend of the same digest carries the same Message-ID, so it can be deduplicated
    message["Message-ID"] = message_id
    message["X-Idempotency-Keys"] = ", ".join(keys)
    greeting = f"Hello {name}," if name else "Hello,"
    body = [greeting, "", "What changed in your accounts, from the latest published warehouse:", ""]
    for item in items:
        body.append(item_text(item))
        body.append("")
        body.append("-" * 72)
        body.append("")
    body.append("Sent by account-health notify. Change what you receive in notify.toml.")
    message.set_content("\n".join(body))
    return message
