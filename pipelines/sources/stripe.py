"""Stripe API objects (customers, subscriptions, invoices, prices) -> dataset `raw_stripe`.

Objects are JSON lines as the Stripe API returns them. dlt normalises them: nested dicts become
`parent__child` columns, the lists `items.data` and `lines.data` become the child tables
`subscriptions__items__data` and `invoices__lines__data`. dlt counts every nested dict as a level, so
max_table_nesting=4 is what flattens `lines.data[].price.recurring.interval` into a column.

One raw shape whatever the data: `RAW_COLUMNS` lists every column dbt staging reads. The top-level
tables get them as column hints, the child tables as `nested_hints` (dlt applies those only when the
child table receives rows), and `ensure_raw_tables` creates whatever is still missing after a load:
tables of files that are absent or empty, columns no record carried. So staging compiles against the
same columns for every company's drop, with or without `billing/`.

Both invoice-line shapes land: classic (`price` expanded, `subscription`, `subscription_item`) and
2025-03-31+ (`parent.subscription_item_details`, `pricing.price_details.price`). An expanded
`pricing.price_details.price` is landed as the line's `price` (where the classic shape has it) with its
id kept in `pricing.price_details.price`: left in place it would be nested past max_table_nesting and
land as a JSON column staging could not read portably. A price given only by id is looked up by
staging in `prices` (`billing/prices*.jsonl`) or in the subscription items.

Bad lines never stop a load and are never dropped silently (CONTRACT 1b): each lands in
`quarantined_records` with its file, line number and a reason: `invalid_utf8` (bytes that are not
UTF-8), `malformed_json`, `not_a_json_object`, `missing_key` (no string `id`), `truncated_file` (a gzip
file cut short; the lines before the cut land). A UTF-8 byte-order mark at the start of a file is
skipped. Which version of a repeated `id` is kept:
- within one file, the LAST line wins; each earlier line is quarantined as `duplicate_record` when its
  object equals the kept one, else `duplicate_key_conflict`;
- across files of one load, the file later in path order wins, as an update (nothing quarantined),
  like the merge across loads where the later load replaces the earlier one.
A first pass over the files records only id -> (file, last line) and the quarantined lines, so memory
grows with the number of distinct ids, not with the objects; the resources read the files again and
yield only the kept lines. The quarantine list is complete before dlt runs any resource (dlt may
interleave resources).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt

from pipelines.sources._files import DropFile
from pipelines.sources.quarantine import (
    DUPLICATE_KEY_CONFLICT,
    DUPLICATE_RECORD,
    INVALID_UTF8,
    MALFORMED_JSON,
    MISSING_KEY,
    NOT_A_JSON_OBJECT,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    TRUNCATED_FILE,
    Quarantined,
    quarantine_resource,
)

log = logging.getLogger(__name__)

STAMP_COLUMNS = {"_source_file": "text", "_loaded_at": "timestamp"}

# Every raw column staging reads, by table (dlt data types). Child tables also get dlt's linkage.
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {
        "id": "text",
        "name": "text",
        "email": "text",
        "currency": "text",
        "created": "bigint",
        "deleted": "bool",
    },
    "subscriptions": {
        "id": "text",
        "customer": "text",
        "status": "text",
        "start_date": "bigint",
        "current_period_start": "bigint",
        "current_period_end": "bigint",
        "canceled_at": "bigint",
        "ended_at": "bigint",
        "created": "bigint",
        "cancel_at_period_end": "bool",
    },
    "subscriptions__items__data": {
        "id": "text",
        "subscription": "text",
        "quantity": "bigint",
        "current_period_start": "bigint",
        "current_period_end": "bigint",
        "price__id": "text",
        "price__product": "text",
        "price__type": "text",
        "price__currency": "text",
        "price__unit_amount": "bigint",
        "price__recurring__interval": "text",
        "price__recurring__interval_count": "bigint",
        "price__metadata__kind": "text",
    },
    "invoices": {
        "id": "text",
        "customer": "text",
        "subscription": "text",
        "parent__subscription_details__subscription": "text",
        "status": "text",
        "currency": "text",
        "total": "bigint",
        "amount_paid": "bigint",
        "created": "bigint",
        "period_start": "bigint",
        "period_end": "bigint",
    },
    "invoices__lines__data": {
        "id": "text",
        "type": "text",
        "subscription": "text",
        "subscription_item": "text",
        "proration": "bool",
        "quantity": "bigint",
        "amount": "bigint",
        "currency": "text",
        "period__start": "bigint",
        "period__end": "bigint",
        "price__id": "text",
        "price__type": "text",
        "price__currency": "text",
        "price__unit_amount": "bigint",
        "price__recurring__interval": "text",
        "price__recurring__interval_count": "bigint",
        "price__metadata__kind": "text",
        "parent__type": "text",
        "parent__subscription_item_details__subscription": "text",
        "parent__subscription_item_details__subscription_item": "text",
        "parent__subscription_item_details__proration": "bool",
        "parent__invoice_item_details__subscription": "text",
        "parent__invoice_item_details__proration": "bool",
        "pricing__price_details__price": "text",
    },
    "prices": {
        "id": "text",
        "product": "text",
        "type": "text",
        "active": "bool",
        "currency": "text",
        "unit_amount": "bigint",
        "recurring__interval": "text",
        "recurring__interval_count": "bigint",
        "metadata__kind": "text",
        "created": "bigint",
    },
}
# (parent resource, path of the list) of each child table
CHILD_TABLES = {
    "subscriptions__items__data": ("subscriptions", ("items", "data")),
    "invoices__lines__data": ("invoices", ("lines", "data")),
}
_DLT_ROOT_COLUMNS = {"_dlt_load_id": "text", "_dlt_id": "text"}
_DLT_CHILD_COLUMNS = {
    "_dlt_root_id": "text",
    "_dlt_parent_id": "text",
    "_dlt_list_idx": "bigint",
    "_dlt_id": "text",
}


def _hints(table: str) -> dict[str, dict]:
    columns = {**RAW_COLUMNS[table], **STAMP_COLUMNS}
    return {name: {"name": name, "data_type": kind, "nullable": True} for name, kind in columns.items()}


def _nested_hints(parent: str) -> dict:
    return {
        path: {"parent_table_name": parent, "columns": _hints(child)}
        for child, (owner, path) in CHILD_TABLES.items()
        if owner == parent
    }


def _expected_tables() -> dict[str, dict[str, str]]:
    """Every raw_stripe table with the columns it must have, dlt's own columns included."""
    tables = {}
    for table, columns in RAW_COLUMNS.items():
        dlt_columns = _DLT_CHILD_COLUMNS if table in CHILD_TABLES else _DLT_ROOT_COLUMNS
        tables[table] = {**columns, **STAMP_COLUMNS, **dlt_columns}
    tables[QUARANTINE_TABLE] = {
        **{name: hint["data_type"] for name, hint in QUARANTINE_COLUMNS.items()},
        **_DLT_ROOT_COLUMNS,
    }
    return tables


def ensure_raw_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Create the raw_stripe tables and columns a load left missing; returns what was added.

    Types come from the destination's own dlt type mapping, so a column dlt adds later with the same
    hint matches; dlt compares with the destination's catalog before altering, so it never adds a
    column twice.
    """
    added: list[str] = []
    with pipeline.destination_client() as job_client:
        type_mapper = job_client.capabilities.get_type_mapper()
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            client.create_dataset()
        with client.execute_query(
            "select table_name, column_name from information_schema.columns where table_schema = %s",
            client.dataset_name,
        ) as cursor:
            existing: dict[str, set[str]] = {}
            for table, column in cursor.fetchall():
                existing.setdefault(table.lower(), set()).add(column.lower())
        for table, columns in _expected_tables().items():
            qualified = client.make_qualified_table_name(table)

            def column_sql(name: str, data_type: str, table: str = table) -> str:
                column = {"name": name, "data_type": data_type, "nullable": True}
                db_type = type_mapper.to_destination_type(column, {"name": table, "columns": {}})
                return f"{client.escape_column_name(name)} {db_type}"

            if table not in existing:
                body = ", ".join(column_sql(name, kind) for name, kind in columns.items())
                client.execute_sql(f"create table {qualified} ({body})")
                added.append(table)
                continue
            for name, kind in columns.items():
                if name not in existing[table]:
                    client.execute_sql(f"alter table {qualified} add column {column_sql(name, kind)}")
                    added.append(f"{table}.{name}")
    if added:
        log.info("raw_stripe: created missing %s", ", ".join(added))
    return added


def _lines(file: DropFile) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw bytes) of a file, without a leading UTF-8 BOM; (n, None) marks a gzip file
    that ends early at line n."""
    opener = gzip.open if file.path.name.endswith(".gz") else open
    number = 0
    with opener(file.path, "rb") as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                yield number, raw
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            log.error("%s is cut short after line %d (%s)", file.relative_path, number, error)
            yield number + 1, None


def _parse(raw: bytes) -> tuple[str | None, Any, str]:
    """(reason or None, object, text) of one line; reason is a quarantine reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8, None, raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return MALFORMED_JSON, None, text.rstrip("\r\n")
    if not isinstance(obj, dict):
        return NOT_A_JSON_OBJECT, None, text.rstrip("\r\n")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        return MISSING_KEY, None, text.rstrip("\r\n")
    return None, obj, text


def _digest(obj: dict[str, Any]) -> bytes:
    # the object, not its bytes: the same object written with another key order or spacing is identical
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).digest()


class _Plan:
    """Which line of which file each id lands from, and the lines quarantined; from one pass."""

    def __init__(self, table: str, files: list[DropFile]) -> None:
        self.table = table
        self.files = sorted(files, key=lambda f: f.relative_path)
        self.winner: dict[str, tuple[int, int]] = {}  # id -> (file index, line number)
        self.quarantined: list[Quarantined] = []
        for index, file in enumerate(self.files):
            self._scan(index, file)

    def _quarantine(self, file: DropFile, number: int, reason: str, text: str | None, key=None) -> None:
        self.quarantined.append(Quarantined(self.table, reason, file.relative_path, number, text, key))

    def _scan(self, index: int, file: DropFile) -> None:
        last: dict[str, tuple[int, bytes]] = {}  # id -> (line, digest) of its latest line in this file
        superseded: list[tuple[int, str, bytes]] = []
        for number, raw in _lines(file):
            if raw is None:
                self._quarantine(file, number, TRUNCATED_FILE, None)
                break
            if not raw.strip():
                continue
            reason, obj, text = _parse(raw)
            if reason:
                self._quarantine(file, number, reason, text)
                continue
            digest = _digest(obj)
            key = obj["id"]
            if key in last:
                superseded.append((last[key][0], key, last[key][1]))
            last[key] = (number, digest)
        if superseded:
            # an earlier copy is identical or conflicting compared with the copy that is kept
            reasons = {
                line: (key, DUPLICATE_RECORD if digest == last[key][1] else DUPLICATE_KEY_CONFLICT)
                for line, key, digest in superseded
            }
            for number, raw in _lines(file):
                if raw is not None and number in reasons:
                    key, reason = reasons[number]
                    self._quarantine(file, number, reason, raw.decode("utf-8").rstrip("\r\n"), key)
            log.warning("%s: %d superseded duplicate line(s) quarantined", file.relative_path, len(reasons))
        for key, (number, _) in last.items():
            self.winner[key] = (index, number)

    def objects(self, loaded_at: datetime, child_list: str | None) -> Iterator[dict[str, Any]]:
        """The kept objects, stamped with their file and load time (children too)."""
        for index, file in enumerate(self.files):
            count = 0
            for number, raw in _lines(file):
                if raw is None:
                    break
                if not raw.strip():
                    continue
                reason, obj, _ = _parse(raw)
                if reason or self.winner.get(obj["id"]) != (index, number):
                    continue
                stamp = {"_source_file": file.relative_path, "_loaded_at": loaded_at}
                obj.update(stamp)
                if child_list and isinstance(obj.get(child_list), dict):
                    for child in obj[child_list].get("data") or []:
                        if isinstance(child, dict):
                            child.update(stamp)
                            _normalise_price(child)
                count += 1
                yield obj
            log.info("%s: read %d objects", file.relative_path, count)


def _normalise_price(child: dict[str, Any]) -> None:
    """An invoice line's or subscription item's price in one place: an expanded
    `pricing.price_details.price` becomes the line's `price` (its id stays where it was), and a
    price given as a bare id becomes `price.id`."""
    pricing = child.get("pricing")
    details = pricing.get("price_details") if isinstance(pricing, dict) else None
    if isinstance(details, dict) and isinstance(details.get("price"), dict):
        expanded = details["price"]
        details["price"] = expanded.get("id")
        if child.get("price") is None:
            child["price"] = expanded
    if isinstance(child.get("price"), str):
        child["price"] = {"id": child["price"]}


@dlt.source(name="stripe", max_table_nesting=4)
def stripe_source(
    customer_files: list[DropFile],
    subscription_files: list[DropFile],
    invoice_files: list[DropFile],
    loaded_at: datetime,
    price_files: list[DropFile] = (),
):
    """The Stripe source. Every resource merges on Stripe's `id`: the objects are mutable (a
    subscription changes status, an invoice gets paid) and the latest state replaces the old one;
    dlt replaces a merged parent's child rows with it."""
    # planned here, before dlt runs (and may interleave) the resources: the quarantine is complete
    plans = {
        "customers": _Plan("customers", customer_files),
        "subscriptions": _Plan("subscriptions", subscription_files),
        "invoices": _Plan("invoices", invoice_files),
        "prices": _Plan("prices", list(price_files)),
    }
    quarantined = [record for plan in plans.values() for record in plan.quarantined]
    for record in quarantined:
        log.error("%s line %d quarantined (%s)", record.source_file, record.line_number, record.reason)

    def resource(table: str, child_list: str | None):
        @dlt.resource(
            name=table,
            primary_key="id",
            write_disposition="merge",
            columns=_hints(table),
            nested_hints=_nested_hints(table) or None,
        )
        def objects() -> Iterator[dict[str, Any]]:
            yield from plans[table].objects(loaded_at, child_list)

        return objects

    return (
        resource("customers", None),
        resource("subscriptions", "items"),
        resource("invoices", "lines"),
        resource("prices", None),
        quarantine_resource(quarantined, loaded_at),
    )
