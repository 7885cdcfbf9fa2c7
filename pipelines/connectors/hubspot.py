"""HubSpot CRM API -> `crm/*_hubspot.csv` and `product/account_memberships_hubspot.csv` of the drop.

Pulled with dlt's `rest_api` source from HubSpot's CRM v3 API (cursor pagination: `after` from
`paging.next.after`). The mapping to the contract's tables (docs/CONNECTORS.md has the full table):
- companies -> `crm/accounts_hubspot.csv`: `account_id` is the company id, or the company property
  named by `account_id_property` (the id the product sends as `context.groupId`); `segment`,
  `stripe_customer_id` from the properties `segment_property`, `stripe_customer_id_property`;
  `csm_owner` is the company owner's e-mail;
- contacts with their company association -> `product/account_memberships_hubspot.csv`: the user
  id is the contact property `user_id_property` (default `email`), the role `role_property`; a
  contact whose company changes between pulls gets its old membership closed on the pull's day and a
  new one opened (a membership never moves silently);
- calls, meetings, notes and e-mails with their company -> `crm/cs_activities_hubspot.csv`
  (`call`, `meeting` or `qbr` when the meeting title matches `qbr_pattern`, `note`, `email`);
- tickets with their company -> `crm/support_tickets_hubspot.csv`, status `open`/`closed` from the
  ticket pipeline stage's state.
Records that cannot be rows (a contact without a user id or company, an engagement without a
company) are not written and are counted in the pull summary (`not written:`), so they are seen.

Incremental: the first pull lists every object. Later pulls ask the search API for objects modified
since the previous pull (less a few minutes of overlap), and the associations of those objects from
the v4 associations API; owners and ticket stages are read each time (one call each). The raw
objects are kept in the state folder and the CSVs are rewritten from them, sorted, so pulling the
same data again writes the same bytes and the loader lands nothing.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from pipelines.connectors._common import (
    collect,
    flag,
    http_session,
    load_state,
    require,
    save_state,
    translate,
    write_atomic,
)

log = logging.getLogger(__name__)

SOURCE = "hubspot"
CREDENTIAL = "access_token"
DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_LIMIT = 100  # HubSpot's largest search page

ENGAGEMENTS = {"calls": "call", "meetings": "meeting", "notes": "note", "emails": "email"}
OBJECTS = ("companies", "contacts", *ENGAGEMENTS, "tickets")
# the last-modified property HubSpot filters on, per object
MODIFIED = {"contacts": "lastmodifieddate"}
BASE_PROPERTIES = {
    "companies": ["name", "domain", "industry", "hubspot_owner_id", "createdate"],
    "contacts": ["email", "createdate"],
    "calls": ["hs_timestamp", "hubspot_owner_id", "hs_call_title"],
    "meetings": ["hs_timestamp", "hubspot_owner_id", "hs_meeting_title"],
    "notes": ["hs_timestamp", "hubspot_owner_id"],
    "emails": ["hs_timestamp", "hubspot_owner_id", "hs_email_direction"],
    "tickets": ["createdate", "closed_date", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"],
}
# properties HubSpot returns whether asked or not
DEFAULT_PROPERTIES = {
    "hs_object_id",
    "createdate",
    "hs_createdate",
    "hs_lastmodifieddate",
    "lastmodifieddate",
}
KNOWN_OBJECT_FIELDS = {
    "id",
    "properties",
    "createdAt",
    "updatedAt",
    "archived",
    "archivedAt",
    "associations",
    "propertiesWithHistory",
    "url",
    "objectWriteTraceId",
}
DEFAULTS = {
    "account_id_property": "",
    "segment_property": "segment",
    "stripe_customer_id_property": "stripe_customer_id",
    "user_id_property": "email",
    "role_property": "jobtitle",
    "sentiment_property": "cs_sentiment",
    "qbr_pattern": r"\b(qbr|business review)\b",
    "extra_company_properties": "",
}

# settings read from `sources.hubspot.*` (docs/CONNECTORS.md)
CONFIG_KEYS = ("base_url", "page_size", "full_refresh", "overlap_seconds", *DEFAULTS)

ACCOUNT_COLUMNS = [
    "account_id", "name", "domain", "segment", "industry", "csm_owner", "stripe_customer_id", "created_at",
]  # fmt: skip
MEMBERSHIP_COLUMNS = ["user_id", "account_id", "role", "valid_from", "valid_to"]
ACTIVITY_COLUMNS = [
    "activity_id",
    "account_id",
    "occurred_at",
    "activity_type",
    "is_automated",
    "sentiment",
    "author",
]
TICKET_COLUMNS = ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "status"]


class _Api:
    def __init__(self, config: dict[str, Any], progress: bool) -> None:
        token = require(config, CREDENTIAL, SOURCE)
        self.base_url = str(config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.page_size = int(config.get("page_size", 100))
        self.session, self.counter = http_session(SOURCE, config, progress)
        self.auth = {"type": "bearer", "token": token}
        self.client = RESTClient(
            base_url=self.base_url, auth=BearerTokenAuth(token=token), session=self.session
        )

    @property
    def calls(self) -> int:
        return self.counter.calls

    def _paginator(self, body: bool = False) -> JSONResponseCursorPaginator:
        if body:
            return JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_body_path="after")
        return JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")

    def resources(self, endpoints: dict[str, dict[str, Any]]) -> dict[str, list[dict]]:
        """Every record of each endpoint, through dlt's rest_api source."""
        from dlt.sources.rest_api import rest_api_resources

        config = {
            "client": {"base_url": self.base_url, "auth": self.auth, "session": self.session},
            "resources": [{"name": name, "endpoint": endpoint} for name, endpoint in endpoints.items()],
        }
        out = {}
        for resource in rest_api_resources(config):
            out[resource.name] = collect(resource, SOURCE, resource.name, CREDENTIAL)
            log.info("%s: %s: %d record(s)", SOURCE, resource.name, len(out[resource.name]))
        return out

    def list_endpoint(self, object_type: str, properties: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "limit": self.page_size,
            "properties": ",".join(properties),
            "archived": "false",
        }
        if object_type != "companies":
            params["associations"] = "companies"
        return {
            "path": f"/crm/v3/objects/{object_type}",
            "params": params,
            "paginator": self._paginator(),
            "data_selector": "results",
        }

    def search_endpoint(self, object_type: str, properties: list[str], since_ms: int) -> dict[str, Any]:
        modified = MODIFIED.get(object_type, "hs_lastmodifieddate")
        return {
            "path": f"/crm/v3/objects/{object_type}/search",
            "method": "POST",
            "json": {
                "filterGroups": [
                    {"filters": [{"propertyName": modified, "operator": "GTE", "value": str(since_ms)}]}
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": min(self.page_size, SEARCH_LIMIT),
            },
            "paginator": self._paginator(body=True),
            "data_selector": "results",
        }

    def associations(self, object_type: str, ids: list[str]) -> dict[str, list[dict]]:
        """id -> [{"id": company id, "type": ...}] from the v4 batch associations API."""
        out: dict[str, list[dict]] = {object_id: [] for object_id in ids}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            try:
                response = self.client.post(
                    f"/crm/v4/associations/{object_type}/companies/batch/read",
                    json={"inputs": [{"id": object_id} for object_id in chunk]},
                )
                if response.status_code >= 400:
                    response.raise_for_status()
                body = response.json()
            except Exception as error:
                raise translate(error, SOURCE, f"{object_type} associations", CREDENTIAL) from error
            for result in body.get("results", []):
                source_id = str((result.get("from") or {}).get("id"))
                for target in result.get("to", []):
                    labels = {str(t.get("label") or "").lower() for t in target.get("associationTypes", [])}
                    out.setdefault(source_id, []).append(
                        {
                            "id": str(target.get("toObjectId")),
                            "type": "primary" if "primary" in labels else "unlabeled",
                        }
                    )
        return out


def _extra(settings: dict[str, str]) -> list[str]:
    return [name.strip() for name in settings["extra_company_properties"].split(",") if name.strip()]


def _properties(object_type: str, settings: dict[str, str]) -> list[str]:
    """The properties asked for: what the mapping reads, and the configured extra company ones."""
    wanted = set(BASE_PROPERTIES[object_type])
    if object_type == "companies":
        wanted |= {settings["account_id_property"], settings["segment_property"]}
        wanted |= {settings["stripe_customer_id_property"], *_extra(settings)}
    elif object_type == "contacts":
        wanted |= {settings["user_id_property"], settings["role_property"]}
    elif object_type in ENGAGEMENTS:
        wanted.add(settings["sentiment_property"])
    return sorted(wanted - {""})


def _companies_of(record: dict[str, Any]) -> list[tuple[str, bool]]:
    """(company id, is primary) of a record's company associations, v3 list or v4 shape."""
    results = ((record.get("associations") or {}).get("companies") or {}).get("results") or []
    out = {}
    for item in results:
        company = str(item.get("id"))
        kind = str(item.get("type") or "")
        primary = kind == "primary" or (kind.endswith("_to_company") and "unlabeled" not in kind)
        out[company] = out.get(company, False) or primary
    return sorted(out.items())


def _date(value: Any) -> str:
    return str(value or "")[:10]


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: [str(r.get(c) or "") for c in columns]):
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return out.getvalue().encode("utf-8")


def _map(
    objects: dict[str, dict[str, dict]],
    owners: dict[str, str],
    stages: dict[str, str],
    memberships: dict[str, list[list[str]]],
    settings: dict[str, str],
    today: str,
) -> tuple[dict[str, bytes], dict[str, int], dict[str, int]]:
    """The drop's CSV files from the raw HubSpot objects: (files, rows per file, not written by reason)."""
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    # companies -> accounts
    account_of: dict[str, str] = {}
    accounts, extra_columns = [], set()
    for company_id, company in objects["companies"].items():
        props = company.get("properties") or {}
        account_id = (
            props.get(settings["account_id_property"]) if settings["account_id_property"] else company_id
        )
        if not account_id:
            skip(f"company without {settings['account_id_property']}")
            continue
        account_of[company_id] = str(account_id)
        segment = str(props.get(settings["segment_property"]) or "").strip().lower()
        row = {
            "account_id": account_id,
            "name": props.get("name"),
            "domain": props.get("domain"),
            "segment": re.sub(r"[\s-]+", "_", segment),
            "industry": props.get("industry"),
            "csm_owner": owners.get(str(props.get("hubspot_owner_id") or ""), props.get("hubspot_owner_id")),
            "stripe_customer_id": props.get(settings["stripe_customer_id_property"]),
            "created_at": props.get("createdate") or company.get("createdAt"),
        }
        # configured extra properties and properties HubSpot sent unasked land as extra columns
        for name in {*_extra(settings), *company.get("_unknown_properties", [])}:
            row[f"hubspot_{name}"] = props.get(name)
            extra_columns.add(f"hubspot_{name}")
        accounts.append(row)

    def account_for(record: dict[str, Any], prefer_primary: bool, allow_several: bool) -> list[str]:
        """The accounts of a record's companies ("?unknown" for a company that is not an account):
        the primary one(s) when asked and marked, else all; "?several" when several and not allowed."""
        companies = _companies_of(record)
        primary = [c for c, is_primary in companies if is_primary] if prefer_primary else []
        chosen = primary or [c for c, _ in companies]
        if len(chosen) > 1 and not allow_several:
            return ["?several"]
        return [account_of.get(c, "?unknown") for c in chosen]

    def known_accounts(record: dict[str, Any], kind: str, prefer_primary: bool) -> list[str]:
        """The accounts of an engagement's or ticket's companies; [] (counted) when none is one."""
        found = account_for(record, prefer_primary, allow_several=True)
        known = [a for a in found if not a.startswith("?")]
        if not found:
            skip(f"{kind} without company")
        elif not known:
            skip(f"{kind} of a company not pulled")
        return known

    # contacts -> memberships (history kept in `memberships`: contact id -> [[account, from, to]])
    for contact_id, contact in objects["contacts"].items():
        props = contact.get("properties") or {}
        if not props.get(settings["user_id_property"]):
            skip(f"contact without {settings['user_id_property']}")
            continue
        found = account_for(contact, prefer_primary=True, allow_several=False)
        current = found[0] if found and not found[0].startswith("?") else None
        if not found:
            skip("contact without company")
        elif found[0] == "?several":
            skip("contact with several companies, none primary")
        elif found[0] == "?unknown":
            skip("contact of a company not pulled")
        history = memberships.setdefault(contact_id, [])
        open_entry = history[-1] if history and not history[-1][2] else None
        if open_entry and open_entry[0] != current and open_entry[1] < today:
            open_entry[2] = today  # the contact left this account (or every account) today
            open_entry = None
        elif open_entry and open_entry[0] != current:
            history.pop()  # opened today and changed today: it never held
            open_entry = None
        if current and open_entry is None:
            history.append([current, _date(props.get("createdate")) if not history else today, ""])
    membership_rows = []
    for contact_id, history in memberships.items():
        contact = objects["contacts"].get(contact_id)
        if contact is None:
            continue
        props = contact.get("properties") or {}
        for account_id, valid_from, valid_to in history:
            membership_rows.append(
                {
                    "user_id": props.get(settings["user_id_property"]),
                    "account_id": account_id,
                    "role": props.get(settings["role_property"]),
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                }
            )

    # engagements -> CS activities (one row per company the engagement is associated with)
    qbr = re.compile(settings["qbr_pattern"], re.IGNORECASE)
    activities = []
    for object_type, kind in ENGAGEMENTS.items():
        for engagement_id, engagement in objects[object_type].items():
            props = engagement.get("properties") or {}
            # an engagement logged against several companies is a touch of each account
            found = known_accounts(engagement, kind, prefer_primary=False)
            if not found:
                continue
            activity_type = kind
            if kind == "meeting" and qbr.search(str(props.get("hs_meeting_title") or "")):
                activity_type = "qbr"
            for account_id in found:
                suffix = f"-{account_id}" if len(found) > 1 else ""
                activities.append(
                    {
                        "activity_id": f"hubspot-{kind}-{engagement_id}{suffix}",
                        "account_id": account_id,
                        "occurred_at": props.get("hs_timestamp") or engagement.get("createdAt"),
                        "activity_type": activity_type,
                        "is_automated": "false",
                        "sentiment": str(props.get(settings["sentiment_property"]) or "").strip().lower(),
                        "author": owners.get(
                            str(props.get("hubspot_owner_id") or ""), props.get("hubspot_owner_id")
                        ),
                    }
                )

    # tickets -> support tickets
    tickets = []
    for ticket_id, ticket in objects["tickets"].items():
        props = ticket.get("properties") or {}
        # a ticket is one account's: its primary company, else the first by id
        found = known_accounts(ticket, "ticket", prefer_primary=True)
        if not found:
            continue
        state = stages.get(str(props.get("hs_pipeline_stage") or ""))
        tickets.append(
            {
                "ticket_id": ticket_id,
                "account_id": found[0],
                "opened_at": props.get("createdate") or ticket.get("createdAt"),
                "closed_at": props.get("closed_date"),
                "priority": str(props.get("hs_ticket_priority") or "").lower(),
                "status": state.lower() if state else "",
            }
        )

    files = {
        "crm/accounts_hubspot.csv": _csv(ACCOUNT_COLUMNS + sorted(extra_columns), accounts),
        "product/account_memberships_hubspot.csv": _csv(MEMBERSHIP_COLUMNS, membership_rows),
        "crm/cs_activities_hubspot.csv": _csv(ACTIVITY_COLUMNS, activities),
        "crm/support_tickets_hubspot.csv": _csv(TICKET_COLUMNS, tickets),
    }
    counts = {
        "crm/accounts_hubspot.csv": len(accounts),
        "product/account_memberships_hubspot.csv": len(membership_rows),
        "crm/cs_activities_hubspot.csv": len(activities),
        "crm/support_tickets_hubspot.csv": len(tickets),
    }
    return files, counts, skipped


def _read_objects(state_dir: Path) -> dict[str, dict[str, dict]]:
    """The raw objects of earlier pulls; {} (so a full pull) when absent or unreadable."""
    path = state_dir / "objects.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("%s is unreadable (%s): pulling in full", path, error)
        return {}


def pull(source_dir: Path, *, state_dir: Path, config: dict, progress: bool) -> dict:
    """Pull HubSpot into the drop's CRM and membership CSVs; returns the pull's summary."""
    source_dir, state_dir = Path(source_dir), Path(state_dir)
    settings = {key: str(config.get(key, default) or "") for key, default in DEFAULTS.items()}
    api = _Api(config, progress)
    state = load_state(state_dir)
    stored = _read_objects(state_dir)
    now_ms = int(time.time() * 1000)
    full = flag(config.get("full_refresh")) or not state.get("since_ms") or set(stored) != set(OBJECTS)
    log.info("%s: %s pull", SOURCE, "full" if full else "incremental")

    properties = {object_type: _properties(object_type, settings) for object_type in OBJECTS}
    since_ms = int(state.get("since_ms") or 0)
    endpoints: dict[str, dict[str, Any]] = {
        "owners": {
            "path": "/crm/v3/owners",
            "params": {"limit": api.page_size},
            "paginator": api._paginator(),
            "data_selector": "results",
        },
        "ticket_pipelines": {
            "path": "/crm/v3/pipelines/tickets",
            "data_selector": "results",
            "paginator": "single_page",
        },
    }
    for object_type in OBJECTS:
        endpoints[object_type] = (
            api.list_endpoint(object_type, properties[object_type])
            if full
            else api.search_endpoint(object_type, properties[object_type], since_ms)
        )
    fetched = api.resources(endpoints)

    objects: dict[str, dict[str, dict]] = {t: {} for t in OBJECTS} if full else stored
    records: dict[str, int] = {}
    unknown: dict[str, list[str]] = {}
    for object_type in OBJECTS:
        batch = [r for r in fetched.get(object_type, []) if r.get("id") is not None]
        if not full and object_type != "companies" and batch:
            # the search API returns no associations: read them for the changed records
            found = api.associations(object_type, [str(r["id"]) for r in batch])
            for record in batch:
                record["associations"] = {"companies": {"results": found.get(str(record["id"]), [])}}
        asked = set(properties[object_type]) | DEFAULT_PROPERTIES
        fields: set[str] = set()
        for record in batch:
            fields |= {f for f in record if f not in KNOWN_OBJECT_FIELDS}
            extra = sorted(p for p in (record.get("properties") or {}) if p not in asked)
            if extra:
                record["_unknown_properties"] = extra
                fields |= {f"properties.{p}" for p in extra}
            objects[object_type][str(record["id"])] = record
        records[object_type] = len(batch)
        if fields:
            unknown[object_type] = sorted(fields)
            log.warning(
                "%s: %s carry fields this connector does not map (landed as hubspot_ columns where a "
                "CSV can carry them): %s",
                SOURCE,
                object_type,
                ", ".join(sorted(fields)),
            )

    owners = {str(o.get("id")): o.get("email") or str(o.get("id")) for o in fetched.get("owners", [])}
    stages = {
        str(stage.get("id")): str((stage.get("metadata") or {}).get("ticketState") or "")
        for pipeline in fetched.get("ticket_pipelines", [])
        for stage in pipeline.get("stages", [])
    }
    today = time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000))
    # membership history is the connector's own record (HubSpot keeps no dates on associations):
    # kept across full pulls too, so a row once written keeps its key
    memberships = {k: [list(e) for e in v] for k, v in state.get("memberships", {}).items()}
    files, rows, skipped = _map(objects, owners, stages, memberships, settings, today)

    files_written = [
        relative for relative, data in files.items() if write_atomic(source_dir / relative, data)
    ]
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / "objects.json", json.dumps(objects, sort_keys=True).encode("utf-8"))
    overlap_ms = int(config.get("overlap_seconds", 300)) * 1000
    save_state(
        state_dir, {"since_ms": now_ms - overlap_ms, "memberships": memberships, "pulled_at_ms": now_ms}
    )
    return {
        "source": SOURCE,
        "mode": "full" if full else "incremental",
        "files": sorted(files_written),
        "records": records,
        "rows": rows,
        "skipped": skipped,
        "api_calls": api.calls,
        "unknown_fields": unknown,
    }
