"""Senders: an HTTP POST of JSON (Slack incoming webhook, generic webhook) and SMTP.

Each send ends in one of three outcomes. `sent`: the receiver acknowledged (HTTP 2xx, SMTP accepted).
`pending`: try again next run (connection refused, timeout, HTTP 5xx, 408, 429, SMTP 4xx). `failed`:
the receiver refused the message itself (other HTTP 4xx, SMTP 5xx); sending it again unchanged
would be refused again, so it waits for a person (`notify --retry-failed`).
"""

from __future__ import annotations

import http.client
import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

# 4xx answers that mean "later", not "never"
RETRYABLE_HTTP = {408, 425, 429}


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | pending | failed
    error: str | None = None
    # False when the receiver could not be reached at all: the rest of its queue waits for next run
    reachable: bool = True


def post_json(url: str, body: dict, headers: dict[str, str], timeout: float) -> Outcome:
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", "account-health-notify")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return Outcome("sent")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()[:500]
        message = f"HTTP {exc.code} {exc.reason}: {detail}" if detail else f"HTTP {exc.code} {exc.reason}"
        if 400 <= exc.code < 500 and exc.code not in RETRYABLE_HTTP:
            return Outcome("failed", message)
        return Outcome("pending", message)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # refused, reset, timed out, or an answer that is not HTTP: nothing was acknowledged
        reason = getattr(exc, "reason", exc)
        return Outcome("pending", f"receiver unreachable: {reason}", reachable=False)


def send_email(
    host: str,
    port: int,
    message: EmailMessage,
    *,
    username: str | None,
    password: str | None,
    starttls: bool,
    use_ssl: bool,
    timeout: float,
) -> Outcome:
    try:
        smtp_class = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
        with smtp_class(host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls()
            if username:
                smtp.login(username, password or "")
            refused = smtp.send_message(message)
        if refused:
            # some recipients refused: a digest has exactly one, so this is that one
            return Outcome("failed", f"SMTP refused {refused}")
        return Outcome("sent")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        status = "pending" if codes and all(400 <= code < 500 for code in codes) else "failed"
        return Outcome(status, f"SMTP recipients refused: {exc.recipients}")
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        status = "pending" if 400 <= exc.smtp_code < 500 else "failed"
        return Outcome(status, f"SMTP {exc.smtp_code}: {text}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome("pending", f"SMTP server unreachable: {exc}", reachable=False)
