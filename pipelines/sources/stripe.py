"""Stripe API objects (customers, subscriptions, invoices) -> dataset `raw_stripe`.

Objects are JSON lines as the Stripe API returns them. dlt normalises them: nested dicts become
`parent__child` columns, the lists `items.data` and `lines.data` become the child tables
`subscriptions__items__data` and `invoices__lines__data`. dlt counts every nested dict as a level, so
max_table_nesting=4 is what flattens `lines.data[].price.recurring.interval` into a column. Column hints
pin the type of every top-level field dbt staging reads, so the column exists even when a drop has it
null everywhere (dlt 1.31 ignores column hints on nested tables; staging reads child-table columns
through the `column_or_null` macro instead).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt

from pipelines.sources._files import DropFile

log = logging.getLogger(__name__)


def _cols(text: list[str] = (), bigint: list[str] = (), boolean: list[str] = ()) -> dict[str, dict]:
    hints: dict[str, dict] = {}
    for names, data_type in ((text, "text"), (bigint, "bigint"), (boolean, "bool")):
        for name in names:
            hints[name] = {"name": name, "data_type": data_type, "nullable": True}
    hints["_source_file"] = {"name": "_source_file", "data_type": "text", "nullable": True}
    hints["_loaded_at"] = {"name": "_loaded_at", "data_type": "timestamp", "nullable": True}
    return hints


CUSTOMER_COLUMNS = _cols(text=["id", "name", "email", "currency"], bigint=["created"], boolean=["deleted"])
SUBSCRIPTION_COLUMNS = _cols(
    text=["id", "customer", "status"],
    bigint=["start_date", "current_period_start", "current_period_end", "canceled_at", "ended_at", "created"],
    boolean=["cancel_at_period_end"],
)
INVOICE_COLUMNS = _cols(
    text=[
        "id",
        "customer",
        "subscription",
        "status",
        "currency",
        "parent__subscription_details__subscription",
    ],
    bigint=["total", "amount_paid", "created", "period_start", "period_end"],
)


def _read_objects(
    files: list[DropFile], loaded_at: datetime, child_list: str | None
) -> Iterator[dict[str, Any]]:
    for file in files:
        opener = gzip.open if file.path.name.endswith(".gz") else open
        count = 0
        with opener(file.path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    # Not landable: there is no id to merge on. Logged loudly, counted by the caller.
                    log.error("%s line %d is not valid JSON; not landed", file.relative_path, number)
                    continue
                stamp = {"_source_file": file.relative_path, "_loaded_at": loaded_at}
                obj.update(stamp)
                if child_list and isinstance(obj.get(child_list), dict):
                    for child in obj[child_list].get("data") or []:
                        if isinstance(child, dict):
                            child.update(stamp)
                count += 1
                yield obj
        log.info("%s: read %d objects", file.relative_path, count)


@dlt.source(name="stripe", max_table_nesting=4)
def stripe_source(
    customer_files: list[DropFile],
    subscription_files: list[DropFile],
    invoice_files: list[DropFile],
    loaded_at: datetime,
):
    """The Stripe source. Every resource merges on Stripe's `id`: the objects are mutable (a
    subscription changes status, an invoice gets paid) and the latest state replaces the old one;
    dlt replaces a merged parent's child rows with it."""

    @dlt.resource(name="customers", primary_key="id", write_disposition="merge", columns=CUSTOMER_COLUMNS)
    def customers() -> Iterator[dict[str, Any]]:
        yield from _read_objects(customer_files, loaded_at, None)

    @dlt.resource(
        name="subscriptions",
        primary_key="id",
        write_disposition="merge",
        columns=SUBSCRIPTION_COLUMNS,
    )
    def subscriptions() -> Iterator[dict[str, Any]]:
        yield from _read_objects(subscription_files, loaded_at, "items")

    @dlt.resource(
        name="invoices",
        primary_key="id",
        write_disposition="merge",
        columns=INVOICE_COLUMNS,
    )
    def invoices() -> Iterator[dict[str, Any]]:
        yield from _read_objects(invoice_files, loaded_at, "lines")

    return customers, subscriptions, invoices
