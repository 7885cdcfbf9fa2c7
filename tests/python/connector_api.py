"""A local HTTP server on 127.0.0.1 that answers like the Stripe and HubSpot APIs, for the connector
tests: recorded objects built from ../shared/fixtures, real pagination, filters by time, and
injected failures (status codes, Retry-After, truncated bodies). Every request is logged, so tests
count the API calls a pull made.
"""

from __future__ import annotations

import copy
import csv
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
STRIPE_FIXTURES = SHARED / "stripe-openapi-fixtures" / "extracted"
HUBSPOT_FIXTURES = SHARED / "fivetran-dbt_hubspot" / "seeds"
TOKEN = "test-credential"


class FakeApi:
    """State and behaviour of the fake APIs; `handle` answers one request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.headers: list[dict] = []  # the headers of each request, in the same order
        self.failures: dict[str, deque] = defaultdict(deque)  # path prefix -> queued responses
        self.stripe: dict[str, list[dict]] = {
            "customers": [],
            "subscriptions": [],
            "invoices": [],
            "prices": [],
        }
        self.events: list[dict] = []
        # full lists behind objects whose `items`/`lines` say has_more: "path[?subscription]" -> rows
        self.nested: dict[str, list[dict]] = {}
        self.hubspot: dict[str, list[dict]] = defaultdict(list)
        self.owners: list[dict] = []
        self.stages: list[dict] = []

    # ---------------------------------------------------------------- test controls
    def fail(
        self, path_prefix: str, status: int, times: int = 1, headers: dict | None = None, body: bytes = b"{}"
    ):
        for _ in range(times):
            self.failures[path_prefix].append((status, headers or {}, body))

    def calls(self, prefix: str = "") -> int:
        return sum(1 for _, path, _ in self.requests if path.startswith(prefix))

    def reset_log(self) -> None:
        self.requests.clear()
        self.headers.clear()

    # ---------------------------------------------------------------- dispatch
    def handle(self, method: str, url: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        with self.lock:
            self.requests.append((method, parts.path, query))
            self.headers.append(headers)
            for prefix, queue in self.failures.items():
                if parts.path.startswith(prefix) and queue:
                    return queue.popleft()
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, json.dumps({"error": {"message": "Invalid API Key provided"}}).encode()
            payload = json.loads(body) if body else {}
            if parts.path.startswith("/v1/"):
                return 200, {}, json.dumps(self._stripe(parts.path, query)).encode()
            return 200, {}, json.dumps(self._hubspot(method, parts.path, query, payload)).encode()

    # ---------------------------------------------------------------- Stripe
    def _stripe(self, path: str, query: dict) -> dict:
        def number(key: str) -> int | None:
            return int(query[key][0]) if key in query else None

        nested = self.nested.get(path + "?" + "&".join(query.get("subscription", [])).strip("?"))
        if nested is None:
            nested = self.nested.get(path)
        if nested is not None:  # a list inside an object (items, lines): in the object's order
            rows = nested
            if "starting_after" in query:
                ids = [r["id"] for r in rows]
                rows = rows[ids.index(query["starting_after"][0]) + 1 :]
            limit = number("limit") or 10
            return {"object": "list", "url": path, "data": rows[:limit], "has_more": len(rows) > limit}
        if path == "/v1/events":
            rows = self.events
            types = set(query.get("types[]", []))
            if types:
                rows = [e for e in rows if e["type"] in types]
        else:
            rows = self.stripe[path.removeprefix("/v1/")]
        if number("created[gt]") is not None:
            rows = [r for r in rows if r["created"] > number("created[gt]")]
        if number("created[gte]") is not None:
            rows = [r for r in rows if r["created"] >= number("created[gte]")]
        rows = sorted(rows, key=lambda r: (-r["created"], r["id"]))  # Stripe lists newest first
        if "starting_after" in query:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(query["starting_after"][0]) + 1 :]
        limit = number("limit") or 10
        return {"object": "list", "url": path, "data": rows[:limit], "has_more": len(rows) > limit}

    # ---------------------------------------------------------------- HubSpot
    def _page(self, rows: list[dict], after: str | None, limit: int) -> dict:
        start = int(after or 0)
        page = {"results": rows[start : start + limit]}
        if start + limit < len(rows):
            page["paging"] = {"next": {"after": str(start + limit), "link": "?after=" + str(start + limit)}}
        return page

    def _shape(self, object_type: str, record: dict, properties: list[str], with_associations: bool) -> dict:
        out = {
            k: v
            for k, v in record.items()
            if k not in ("properties", "associations") and not k.startswith("_")
        }
        out["properties"] = {p: record["properties"].get(p) for p in properties}
        out["properties"].update(record.get("_extra", {}))
        for default in ("hs_object_id", "createdate", "hs_lastmodifieddate"):
            out["properties"].setdefault(default, record["properties"].get(default))
        if with_associations and record.get("associations"):
            out["associations"] = {
                "companies": {"results": [{"id": c, "type": t} for c, t in record["associations"]]}
            }
        return out

    def _hubspot(self, method: str, path: str, query: dict, payload: dict) -> dict:
        limit = int((query.get("limit") or [payload.get("limit", 10)])[0])
        after = (query.get("after") or [payload.get("after")])[0]
        if path.rstrip("/") == "/crm/v3/owners":
            return self._page(self.owners, after, limit)
        if path == "/crm/v3/pipelines/tickets":
            return {"results": [{"id": "0", "label": "Support Pipeline", "stages": self.stages}]}
        segments = path.strip("/").split("/")
        if segments[:3] == ["crm", "v4", "associations"]:
            object_type = segments[3]
            by_id = {r["id"]: r for r in self.hubspot[object_type]}
            results = []
            for item in payload.get("inputs", []):
                record = by_id.get(item["id"])
                if record and record.get("associations"):
                    results.append(
                        {
                            "from": {"id": item["id"]},
                            "to": [
                                {
                                    "toObjectId": int(c),
                                    "associationTypes": [
                                        {
                                            "category": "HUBSPOT_DEFINED",
                                            "typeId": 1,
                                            "label": "Primary" if t.endswith("_to_company") else None,
                                        }
                                    ],
                                }
                                for c, t in record["associations"]
                            ],
                        }
                    )
            return {"status": "COMPLETE", "results": results}
        object_type = segments[3]
        rows = sorted(self.hubspot[object_type], key=lambda r: int(r["id"]))
        if method == "POST" and segments[-1] == "search":
            (flt,) = payload["filterGroups"][0]["filters"]
            since = int(flt["value"])
            rows = [r for r in rows if r["_modified_ms"] >= since]
            shaped = [self._shape(object_type, r, payload.get("properties", []), False) for r in rows]
            return {"total": len(shaped), **self._page(shaped, after, limit)}
        properties = (query.get("properties") or [""])[0].split(",")
        shaped = [self._shape(object_type, r, properties, "associations" in query) for r in rows]
        return self._page(shaped, after, limit)


def _json(name: str) -> dict:
    return json.loads((STRIPE_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def stripe_objects(api: FakeApi, customers: int = 5, start: int = 1_760_000_000) -> None:
    """Stripe objects from the openapi fixtures (their nesting, our ids and times): per customer a
    subscription with a seat item, and two invoices, one in each line shape."""
    price = _json("price")
    price.update(id="price_seat", unit_amount=5000, metadata={"kind": "seat"}, created=start)
    api.stripe["prices"].append(price)
    for n in range(1, customers + 1):
        created = start + n * 86_400
        customer = _json("customer")
        customer.update(
            id=f"cus_{n:03d}", created=created, name=f"Company {n}", email=f"billing@c{n}.example"
        )
        customer.pop("discount", None)
        api.stripe["customers"].append(customer)
        subscription = _json("subscription")
        item = copy.deepcopy(subscription["items"]["data"][0])
        item.update(id=f"si_{n:03d}", subscription=f"sub_{n:03d}", quantity=n + 1, price=copy.deepcopy(price))
        item.update(current_period_start=created, current_period_end=created + 30 * 86_400)
        subscription.update(id=f"sub_{n:03d}", customer=f"cus_{n:03d}", status="active", created=created)
        subscription.update(
            start_date=created, canceled_at=None, ended_at=None, cancel_at=None, cancel_at_period_end=False
        )
        subscription["items"] = {"object": "list", "data": [item], "has_more": False}
        api.stripe["subscriptions"].append(subscription)
        for m, shape in enumerate(("classic", "2025-03-31")):
            invoice = _json("invoice")
            line = copy.deepcopy(invoice["lines"]["data"][0])
            invoice_created = created + m * 30 * 86_400
            period = {"start": invoice_created, "end": invoice_created + 30 * 86_400}
            line.update(
                id=f"il_{n:03d}_{m}",
                invoice=f"in_{n:03d}_{m}",
                amount=5000 * (n + 1),
                quantity=n + 1,
                period=period,
            )
            if shape == "classic":
                line.pop("parent", None)
                line.pop("pricing", None)
                line.update(
                    price=copy.deepcopy(price),
                    subscription=f"sub_{n:03d}",
                    subscription_item=f"si_{n:03d}",
                    proration=False,
                    type="subscription",
                )
            else:
                line["parent"] = {
                    "type": "subscription_item_details",
                    "subscription_item_details": {
                        "subscription": f"sub_{n:03d}",
                        "subscription_item": f"si_{n:03d}",
                        "proration": False,
                        "invoice_item": None,
                    },
                    "invoice_item_details": None,
                }
                line["pricing"] = {
                    "type": "price_details",
                    "price_details": {"price": "price_seat", "product": price["product"]},
                    "unit_amount_decimal": "5000",
                }
            invoice.update(
                id=f"in_{n:03d}_{m}", customer=f"cus_{n:03d}", created=invoice_created, status="paid"
            )
            invoice.update(
                period_start=invoice_created,
                period_end=invoice_created,
                total=5000 * (n + 1),
                amount_paid=5000 * (n + 1),
            )
            invoice["lines"] = {"object": "list", "data": [line], "has_more": False}
            api.stripe["invoices"].append(invoice)


def cut_short(api: FakeApi, object_type: str, index: int, copies: int = 3) -> dict:
    """Give one subscription (or invoice) `copies` items (lines) of which the listed object carries
    only the first, with `has_more`, as Stripe does past its embedded limit; the rest is served by
    `/v1/subscription_items?subscription=` (`/v1/invoices/<id>/lines`). Returns the object."""
    obj = api.stripe[object_type][index]
    field = "items" if object_type == "subscriptions" else "lines"
    first = obj[field]["data"][0]
    rows = [{**copy.deepcopy(first), "id": f"{first['id']}_{n}"} for n in range(copies)]
    obj[field] = {"object": "list", "data": rows[:1], "has_more": True}
    if object_type == "subscriptions":
        api.nested[f"/v1/subscription_items?{obj['id']}"] = rows
    else:
        api.nested[f"/v1/invoices/{obj['id']}/lines"] = rows
    return obj


def stripe_event(api: FakeApi, event_type: str, obj: dict) -> None:
    """Record a change as Stripe does: the object's new state in an event, now."""
    event = _json("event")
    event.update(id=f"evt_{len(api.events) + 1:04d}", type=event_type, created=int(time.time()))
    event["data"] = {"object": copy.deepcopy(obj)}
    api.events.append(event)


def _rows(name: str) -> list[dict]:
    with (HUBSPOT_FIXTURES / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _ms(text: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).timestamp() * 1000)


def hubspot_objects(api: FakeApi, companies: int = 6) -> None:
    """HubSpot CRM objects from Fivetran's HubSpot seeds (their ids, dates, owners, stages). The
    seeds' link tables point at ids that are not in the seeds, so each contact, engagement and
    ticket is associated with a company in turn."""
    old = _ms("2021-01-01 00:00:00")
    api.owners = [
        {
            "id": row["owner_id"],
            "email": f"owner{n}@vendor.example",
            "firstName": "",
            "lastName": "",
            "archived": False,
        }
        for n, row in enumerate(_rows("owner_data")[:5])
    ]
    api.stages = [
        {"id": row["stage_id"], "label": row["label"], "metadata": {"ticketState": row["ticket_state"]}}
        for row in _rows("ticket_pipeline_stage_data")
    ]
    company_ids = []
    for n, row in enumerate(_rows("company_data")[:companies]):
        company_ids.append(row["id"])
        api.hubspot["companies"].append(
            {
                "id": row["id"],
                "createdAt": row["property_createdate"],
                "updatedAt": row["property_createdate"],
                "archived": False,
                "_modified_ms": old,
                "properties": {
                    "name": row["property_name"],
                    "domain": f"c{n}.example",
                    "industry": row["property_industry"],
                    "createdate": row["property_createdate"],
                    "hubspot_owner_id": api.owners[n % len(api.owners)]["id"],
                    "segment": ("SMB", "Mid-Market", "Enterprise")[n % 3],
                    "stripe_customer_id": f"cus_{n + 1:03d}",
                    "numberofemployees": str(10 * (n + 1)),
                    "hs_object_id": row["id"],
                },
            }
        )
    for n, row in enumerate(_rows("contact_data")):
        api.hubspot["contacts"].append(
            {
                "id": row["id"],
                "createdAt": row["property_createdate"],
                "archived": False,
                "_modified_ms": old,
                "properties": {
                    "email": f"user{n}@c{n % companies}.example",
                    "jobtitle": "admin" if n % 4 == 0 else "member",
                    "createdate": row["property_createdate"],
                },
                "associations": [(company_ids[n % companies], "contact_to_company")],
            }
        )
    engagements = [("calls", r, "property_hs_timestamp") for r in _rows("engagement_call_data")]
    engagements += [("emails", r, "property_hs_timestamp") for r in _rows("engagement_email_data")]
    engagements += [("notes", r, "property_hs_timestamp") for r in _rows("engagement_note_data")]
    engagements += [("meetings", r, "start_time") for r in _rows("engagement_meeting_data")[:30]]
    for n, (object_type, row, stamp) in enumerate(engagements):
        properties = {"hs_timestamp": row[stamp], "hubspot_owner_id": api.owners[n % len(api.owners)]["id"]}
        if object_type == "meetings":
            properties["hs_meeting_title"] = "Quarterly business review" if n % 5 == 0 else row["title"]
        api.hubspot[object_type].append(
            {
                "id": row["engagement_id"],
                "createdAt": row[stamp],
                "archived": False,
                "_modified_ms": old,
                "properties": properties,
                "associations": [(company_ids[n % companies], "call_to_company")],
            }
        )
    for n, row in enumerate(_rows("ticket_data")):
        api.hubspot["tickets"].append(
            {
                "id": row["id"],
                "createdAt": row["property_createdate"],
                "archived": False,
                "_modified_ms": old,
                "properties": {
                    "createdate": row["property_createdate"],
                    "closed_date": row["property_closed_date"] or None,
                    "hs_pipeline": "0",
                    "hs_pipeline_stage": api.stages[n % len(api.stages)]["id"],
                    "hs_ticket_priority": ("LOW", "MEDIUM", "HIGH", "URGENT")[n % 4],
                },
                "associations": [(company_ids[n % companies], "ticket_to_company")],
            }
        )


def touch(record: dict) -> None:
    """Mark a HubSpot record modified now (what the search API filters on)."""
    record["_modified_ms"] = int(time.time() * 1000)


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, data = self.server.api.handle(method, self.path, dict(self.headers), body)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")


class ApiServer:
    """The fake API served on 127.0.0.1 in a thread."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.api = api  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> ApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
