"""The `notify` command's options and its handler, and the optional `notify` step of `run`."""

from __future__ import annotations

import argparse
import logging

from pipelines.notify.config import ConfigError, find_config, load_config
from pipelines.notify.items import WarehouseError
from pipelines.notify.outbox import OutboxBusy, state_path
from pipelines.notify.run import NotifyResult, notify, status_lines

__all__ = ["add_arguments", "command", "status_lines", "step_after_run"]

logger = logging.getLogger("account_health.notify")
summary_log = logging.getLogger("account_health.summary")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BUSY = 3


def add_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--config",
        help="notification config (env ACCOUNT_HEALTH_NOTIFY_CONFIG; notify.toml beside the warehouse)",
    )
    cmd.add_argument(
        "--webhook-url",
        help="send every alert, signal and digest to this one JSON webhook, not the configured channels",
    )
    cmd.add_argument(
        "--retry-failed",
        action="store_true",
        help="put deliveries that failed for good (a 4xx, a missing address) back in the queue first",
    )


def summarize(result: NotifyResult, state) -> list[str]:
    sent = ", ".join(f"{count} {kind}s" for kind, count in sorted(result.sent.items())) or "nothing"
    lines = [
        f"notify: as of {result.as_of}, look-back window from {result.window_start}",
        f"  queued {result.queued} new deliveries; {result.marked_seen} older items marked seen, not sent",
        f"  sent {result.deliveries_sent} deliveries ({sent})",
        f"  pending {result.pending} (retried next run); failed now {result.failed_now}"
        + (f"; {result.retried} failed put back in the queue" if result.retried else ""),
    ]
    lines += [f"  {message}" for message in result.messages]
    lines.append(f"  outbox: {state}")
    return lines


def command(settings, args) -> int:
    """`account-health notify`: exit 0 when everything queued was delivered."""
    try:
        path = find_config(settings.warehouse, args.config)
        if path is None and not args.webhook_url:
            logger.error(
                "no notification config: write notify.toml beside %s (see notify.example.toml), "
                "pass --config, or use --webhook-url URL",
                settings.warehouse,
            )
            return EXIT_FAILED
        config = load_config(path, args.webhook_url)
        result = notify(settings.warehouse, config, retry_failed=args.retry_failed)
    except OutboxBusy as exc:
        logger.error("%s", exc)
        return EXIT_BUSY
    except (ConfigError, WarehouseError) as exc:
        logger.error("%s", exc)
        return EXIT_FAILED
    for line in summarize(result, state_path(settings.warehouse)):
        summary_log.info("%s", line)
    return EXIT_OK if result.ok else EXIT_FAILED


def step_after_run(settings) -> None:
    """`run`'s last step when a config is found: the warehouse is already published, so a delivery
    problem is reported and left in the outbox, never turned into a failed run."""
    try:
        path = find_config(settings.warehouse)
        if path is None:
            return
        result = notify(settings.warehouse, load_config(path))
    except (ConfigError, WarehouseError, OutboxBusy) as exc:
        logger.warning("notify after publish did not run: %s", exc)
        return
    except Exception:
        # anything else (a full disk, a corrupt outbox) is logged in full, but the publish stands
        logger.exception("notify after publish failed; the warehouse is published, run `notify` again")
        return
    for line in summarize(result, state_path(settings.warehouse)):
        summary_log.info("%s", line)
