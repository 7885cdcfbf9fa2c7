"""Stripe API -> `billing/*.jsonl` of the drop (customers, subscriptions, invoices, prices).

Pulled with dlt's `rest_api` source (Stripe's cursor pagination: `limit`, `starting_after` = the
last object's id while `has_more`). The objects are written as the API sends them, so the file
loader lands them into the same `raw_stripe` tables as an export, in either invoice-line shape.

Files are current state, rewritten from the merged objects at each pull, sorted by id, so that
pulling the same data again writes the same bytes (the loader skips them) and an updated object
replaces its old version by merge on `id` (never a conflicting duplicate):
- `billing/customers_stripe.jsonl`, `subscriptions_stripe.jsonl`, `prices_stripe.jsonl`;
- `billing/invoices_stripe_<YYYY-MM>.jsonl` by the invoice's `created` month: an invoice paid or
  voided later rewrites only its month's file, so the loader re-lands one month, not the history.

Incremental (docs/CONNECTORS.md): the first pull lists everything. A later pull lists only objects
created after the latest `created` seen (`created[gt]`) and reads `/v1/events` since the previous
pull (less a few minutes of overlap) for objects that changed (a subscription cancelled, an invoice
paid) or were created in that same second; the latest event's object replaces the stored one.
Stripe keeps events 30 days: a pull whose last pull is older than `events_retention_days` (or
whose files were changed or removed) pulls in full.
Lists inside objects (`items`, `lines`) that Stripe cut short (`has_more`) are completed from
`/v1/subscription_items` and `/v1/invoices/<id>/lines`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from pipelines.connectors import ConnectorError
from pipelines.connectors._common import (
    collect,
    files_intact,
    flag,
    http_session,
    load_state,
    require,
    save_state,
    sha256,
    write_atomic,
)

log = logging.getLogger(__name__)

SOURCE = "stripe"
CREDENTIAL = "api_key"
DEFAULT_BASE_URL = "https://api.stripe.com"
# settings read from `sources.stripe.*` (docs/CONNECTORS.md)
CONFIG_KEYS = (
    "base_url",
    "api_version",
    "page_size",
    "full_refresh",
    "events_retention_days",
    "events_overlap_seconds",
)

# object type -> (list endpoint, file stem)
LISTS = {
    "customers": "/v1/customers",
    "subscriptions": "/v1/subscriptions",
    "invoices": "/v1/invoices",
    "prices": "/v1/prices",
}
# `object` field of an event's data.object -> our type
OBJECT_TYPES = {
    "customer": "customers",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "price": "prices",
}
# event types that carry a new state of one of the four objects (Stripe accepts 20 in `types[]`)
EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.created",
    "invoice.updated",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "price.created",
    "price.updated",
    "price.deleted",
)


def _fields(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Top-level fields of each object in Stripe's API reference (current and the pre-2025 fields our
# staging still reads). A field outside these lands all the same (dlt adds a column) and is listed
# in the run summary, so a schema change is seen rather than silently carried.
KNOWN_FIELDS = {
    "customers": _fields(
        """
        address balance cash_balance created currency default_source deleted delinquent description
        discount email id invoice_credit_balance invoice_prefix invoice_settings livemode metadata name
        next_invoice_sequence object phone preferred_locales shipping sources subscriptions tax
        tax_exempt tax_ids test_clock customer_account
        """
    ),
    "subscriptions": _fields(
        """
        application application_fee_percent automatic_tax billing_cycle_anchor
        billing_cycle_anchor_config billing_mode billing_schedules billing_thresholds cancel_at
        cancel_at_period_end canceled_at cancellation_details collection_method created currency
        current_period_end current_period_start customer customer_account days_until_due
        default_payment_method default_source default_tax_rates description discount discounts ended_at
        id invoice_settings items latest_invoice livemode managed_payments metadata
        next_pending_invoice_item_invoice object on_behalf_of pause_collection payment_settings
        pending_invoice_item_interval pending_setup_intent pending_update plan quantity schedule
        start_date status test_clock transfer_data trial_end trial_settings trial_start
        """
    ),
    "invoices": _fields(
        """
        account_country account_name account_tax_ids amount_due amount_overpaid amount_paid
        amount_remaining amount_shipping application application_fee_amount attempt_count attempted
        auto_advance automatic_tax automatically_finalizes_at billing_reason charge collection_method
        confirmation_secret created currency custom_fields customer customer_account customer_address
        customer_email customer_name customer_phone customer_shipping customer_tax_exempt
        customer_tax_ids default_payment_method default_source default_tax_rates description discount
        discounts due_date effective_at ending_balance footer from_invoice hosted_invoice_url id
        invoice_pdf issuer last_finalization_error latest_revision lines livemode metadata
        next_payment_attempt number object on_behalf_of paid paid_out_of_band parent payment_intent
        payment_settings payments period_end period_start post_payment_credit_notes_amount
        pre_payment_credit_notes_amount quote receipt_number rendering shipping_cost shipping_details
        starting_balance statement_descriptor status status_transitions subscription
        subscription_details subscription_proration_date subtotal subtotal_excluding_tax tax test_clock
        total total_discount_amounts total_excluding_tax total_pretax_credit_amounts total_tax_amounts
        total_taxes transfer_data webhooks_delivered_at
        """
    ),
    "prices": _fields(
        """
        active billing_scheme created currency currency_options custom_unit_amount deleted id livemode
        lookup_key metadata nickname object product recurring tax_behavior tiers tiers_mode
        transform_quantity type unit_amount unit_amount_decimal
        """
    ),
}


class StripePaginator(BasePaginator):
    """Stripe's list pagination: while the page says `has_more`, ask for the objects after the
    last id of this page (`starting_after`)."""

    def __init__(self) -> None:
        super().__init__()
        self._after: str | None = None

    def update_state(self, response, data=None) -> None:  # noqa: ANN001 (dlt's signature)
        body = response.json()
        last = data[-1] if data else None
        if body.get("has_more") and isinstance(last, dict) and last.get("id"):
            self._after = last["id"]
            self._has_next_page = True
        else:
            self._has_next_page = False

    def update_request(self, request) -> None:  # noqa: ANN001
        if request.params is None:
            request.params = {}
        request.params["starting_after"] = self._after

    def __str__(self) -> str:
        return f"StripePaginator(starting_after={self._after})"


class _Api:
    """dlt REST client, rest_api resources and the call count of one pull."""

    def __init__(self, config: dict[str, Any], progress: bool) -> None:
        key = require(config, CREDENTIAL, SOURCE)
        self.base_url = str(config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.page_size = int(config.get("page_size", 100))
        self.session, self.counter = http_session(SOURCE, config, progress)
        self.headers = {"Stripe-Version": str(config["api_version"])} if config.get("api_version") else {}
        self.auth = {"type": "bearer", "token": key}
        self.client = RESTClient(
            base_url=self.base_url,
            headers=self.headers,
            session=self.session,
            auth=BearerTokenAuth(token=key),
            paginator=StripePaginator(),
            data_selector="data",
        )

    @property
    def calls(self) -> int:
        return self.counter.calls

    def lists(self, params_by_type: dict[str, dict[str, Any]]) -> dict[str, list[dict]]:
        """Every object of each list endpoint (with its params), through dlt's rest_api source."""
        from dlt.sources.rest_api import rest_api_resources

        resources = [
            {
                "name": name,
                "endpoint": {
                    "path": LISTS.get(name, name),
                    "params": {"limit": self.page_size, **params},
                    "paginator": StripePaginator(),
                    "data_selector": "data",
                },
            }
            for name, params in params_by_type.items()
        ]
        config = {
            "client": {
                "base_url": self.base_url,
                "headers": self.headers,
                "auth": self.auth,
                "session": self.session,
            },
            "resources": resources,
        }
        out = {}
        for resource in rest_api_resources(config):
            out[resource.name] = collect(resource, SOURCE, resource.name, CREDENTIAL)
            log.info("%s: %s: %d object(s) listed", SOURCE, resource.name, len(out[resource.name]))
        return out

    def paginate(self, path: str, params: dict[str, Any], what: str) -> list[dict]:
        return collect(
            self.client.paginate(
                path, params={"limit": self.page_size, **params}, paginator=StripePaginator()
            ),
            SOURCE,
            what,
            CREDENTIAL,
        )


def _complete_nested(api: _Api, object_type: str, obj: dict[str, Any]) -> None:
    """Fetch the rest of a list Stripe cut short inside an object (more than 10 items or lines)."""
    if object_type == "subscriptions":
        field, path, params = "items", "/v1/subscription_items", {"subscription": obj.get("id")}
    elif object_type == "invoices":
        field, path, params = "lines", f"/v1/invoices/{obj.get('id')}/lines", {}
    else:
        return
    nested = obj.get(field)
    if not isinstance(nested, dict) or not nested.get("has_more") or not obj.get("id"):
        return
    nested["data"] = api.paginate(path, params, f"{object_type} {obj['id']} {field}")
    nested["has_more"] = False


def _file_for(object_type: str, obj: dict[str, Any]) -> str:
    if object_type == "invoices":
        created = obj.get("created")
        month = (
            time.strftime("%Y-%m", time.gmtime(created)) if isinstance(created, int | float) else "unknown"
        )
        return f"billing/invoices_stripe_{month}.jsonl"
    return f"billing/{object_type}_stripe.jsonl"


def _read_files(source_dir: Path, written: dict[str, str]) -> dict[str, dict[str, dict]]:
    """The objects of the files a previous pull wrote, by type and id."""
    objects: dict[str, dict[str, dict]] = {name: {} for name in LISTS}
    for relative in written:
        stem = Path(relative).name.split("_stripe")[0]
        if stem not in objects:
            continue
        with (source_dir / relative).open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    obj = json.loads(line)
                    objects[stem][obj["id"]] = obj
    return objects


def _unknown_fields(object_type: str, objects: list[dict]) -> set[str]:
    known = KNOWN_FIELDS[object_type]
    return {field for obj in objects for field in obj if field not in known}


def pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict:
    """Pull Stripe into `source_dir/billing/`; returns the pull's summary (module docstring)."""
    source_dir, state_dir = Path(source_dir), Path(state_dir)
    api = _Api(config, progress)
    state = load_state(state_dir)
    now = int(time.time())
    retention = float(config.get("events_retention_days", 30)) * 86400
    written: dict[str, str] = state.get("files", {})
    reason = None
    if flag(config.get("full_refresh")):
        reason = "full_refresh is set"
    elif not state.get("events_since"):
        reason = "first pull"
    elif not files_intact(source_dir, written):
        reason = "the files of the previous pull were changed or removed"
    elif now - int(state["events_since"]) > retention - 3600:
        reason = "the previous pull is older than Stripe's event retention"
    full = reason is not None
    log.info("%s: %s pull%s", SOURCE, "full" if full else "incremental", f" ({reason})" if reason else "")

    cursors: dict[str, int] = dict(state.get("created", {}))
    if full:
        fetched = api.lists({name: {} for name in LISTS})
        merged = {name: {} for name in LISTS}
    else:
        fetched = api.lists({name: {"created[gt]": cursors.get(name, 0)} for name in LISTS})
        merged = _read_files(source_dir, written)
    # next pull's event cursor: a few minutes before now, against clock skew; events read twice
    # are harmless (the latest state of an object wins by event time)
    events_since = now - int(config.get("events_overlap_seconds", 300))
    changed: dict[str, list[dict]] = defaultdict(list)
    event_count = 0
    if not full:
        params = {"created[gte]": int(state["events_since"]), "types[]": list(EVENT_TYPES)}
        events = api.paginate("/v1/events", params, "events")
        event_count = len(events)
        # newest state per object: Stripe lists events newest first (also within one second, which
        # `created` cannot order), so read them backwards and let a later event overwrite
        latest: dict[tuple[str, str], tuple[int, dict]] = {}
        for event in reversed(events):
            obj = (event.get("data") or {}).get("object")
            object_type = OBJECT_TYPES.get(obj.get("object")) if isinstance(obj, dict) else None
            if object_type is None or not obj.get("id"):
                continue
            if event.get("type") == "customer.deleted":
                obj = {**obj, "deleted": True}
            latest[(object_type, obj["id"])] = (event.get("created") or 0, obj)
        for (object_type, _), (_, obj) in latest.items():
            changed[object_type].append(obj)

    records: dict[str, int] = {}
    unknown: dict[str, list[str]] = {}
    for object_type in LISTS:
        objects = [o for o in fetched.get(object_type, []) if isinstance(o.get("id"), str)]
        # listed objects first, then the event states: an event newer than the listing wins
        objects += changed.get(object_type, [])
        for obj in objects:
            _complete_nested(api, object_type, obj)
            merged[object_type][obj["id"]] = obj
            created = obj.get("created")
            if isinstance(created, int) and created > cursors.get(object_type, 0):
                cursors[object_type] = created
        records[object_type] = len({o["id"] for o in objects})
        fields = _unknown_fields(object_type, objects)
        if fields:
            unknown[object_type] = sorted(fields)
            log.warning(
                "%s: %s carry fields this connector does not know (landed as new columns): %s",
                SOURCE,
                object_type,
                ", ".join(sorted(fields)),
            )

    # write only now: a pull that failed above wrote nothing
    contents: dict[str, list[str]] = defaultdict(list)
    for object_type, by_id in merged.items():
        for object_id in sorted(by_id):
            obj = by_id[object_id]
            contents[_file_for(object_type, obj)].append(
                json.dumps(obj, sort_keys=True, separators=(",", ":"))
            )
    files_written, files_now = [], {}
    for relative in sorted(contents):
        data = ("\n".join(contents[relative]) + "\n").encode("utf-8")
        if write_atomic(source_dir / relative, data):
            files_written.append(relative)
        files_now[relative] = sha256(source_dir / relative)
    save_state(
        state_dir,
        {"created": cursors, "events_since": events_since, "files": files_now, "pulled_at": now},
    )
    return {
        "source": SOURCE,
        "mode": "full" if full else "incremental",
        "files": files_written,
        "records": records,
        "events": event_count,
        "api_calls": api.calls,
        "unknown_fields": unknown,
    }


__all__ = ["pull", "StripePaginator", "ConnectorError"]
