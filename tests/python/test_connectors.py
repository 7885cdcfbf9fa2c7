"""The Stripe and HubSpot connectors against a local HTTP server (tests/python/connector_api.py)
serving objects built from ../shared/fixtures: pagination, retries on 429 and 5xx, a refused
credential, a truncated page, an unknown field, incremental pulls counted in requests, and loading
the same data twice into a real DuckDB warehouse. No test touches the internet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import connector_api as fake
import duckdb
import pytest
from dbt_support import cli_env

from pipelines.connectors import ConnectorError, describe, parse_sources, pull_all
from pipelines.connectors import hubspot as hubspot_connector
from pipelines.connectors import stripe as stripe_connector

pytestmark = [
    pytest.mark.connectors,
    pytest.mark.skipif(
        not (fake.STRIPE_FIXTURES.is_dir() and fake.HUBSPOT_FIXTURES.is_dir()),
        reason="../shared/fixtures (Stripe openapi and Fivetran HubSpot seeds) is not available",
    ),
]

CONNECTORS = {"stripe": stripe_connector, "hubspot": hubspot_connector}
# a path of each API that every pull reads, for injecting failures
FIRST_PATH = {"stripe": "/v1/customers", "hubspot": "/crm/v3/objects/companies"}
FAST_RETRIES = {"request_backoff_factor": 0.01, "request_max_retry_delay": 0.05, "request_max_attempts": 3}


@pytest.fixture
def api():
    data = fake.FakeApi()
    fake.stripe_objects(data)
    fake.hubspot_objects(data)
    with fake.ApiServer(data) as server:
        data.url = server.url
        yield data


def config(api: fake.FakeApi, **extra) -> dict:
    return {
        "api_key": fake.TOKEN,
        "access_token": fake.TOKEN,
        "base_url": api.url,
        "page_size": 2,
        **FAST_RETRIES,
        **extra,
    }


def pull(name: str, api: fake.FakeApi, tmp: Path, **extra) -> dict:
    return CONNECTORS[name].pull(
        tmp / "drop", state_dir=tmp / "state" / name, config=config(api, **extra), progress=True
    )


def drop_files(tmp: Path) -> dict[str, bytes]:
    root = tmp / "drop"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------ registry
def test_sources_parse_repeated_and_comma_separated_names_in_order():
    assert parse_sources(None) == ["files"]
    assert parse_sources(["stripe,hubspot", "files", "stripe"]) == ["stripe", "hubspot", "files"]
    with pytest.raises(ValueError, match="unknown source 'salesforce'"):
        parse_sources(["stripe,salesforce"])


# ---------------------------------------------------------------------------------- pagination
@pytest.mark.parametrize("name", ["stripe", "hubspot"])
def test_pull_follows_pagination_over_several_pages(name, api, tmp_path, caplog):
    caplog.set_level("INFO", logger="pipelines.connectors")
    result = pull(name, api, tmp_path)
    # progress: one line per call, numbered, with the path and the status
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{name}: call ")]
    assert len(progress) == result["api_calls"] and progress[0].startswith(f"{name}: call 1 GET /")
    if name == "stripe":
        assert result["records"] == {"customers": 5, "subscriptions": 5, "invoices": 10, "prices": 1}
        # 5 customers at 2 a page: 3 pages, the 2nd and 3rd after the last id of the previous one
        pages = [q for _, path, q in api.requests if path == "/v1/customers"]
        assert len(pages) == 3
        assert [q.get("starting_after") for q in pages] == [None, ["cus_004"], ["cus_002"]]
        lines = (tmp_path / "drop/billing/customers_stripe.jsonl").read_text().splitlines()
        assert [json.loads(line)["id"] for line in lines] == [f"cus_{n:03d}" for n in range(1, 6)]
        invoices = sorted((tmp_path / "drop/billing").glob("invoices_stripe_*.jsonl"))
        assert sum(len(p.read_text().splitlines()) for p in invoices) == 10
    else:
        assert result["records"]["companies"] == 6 and result["records"]["contacts"] == 22
        assert result["records"]["tickets"] == 25 and result["records"]["meetings"] == 30
        pages = [q for _, path, q in api.requests if path == "/crm/v3/objects/contacts"]
        assert len(pages) == 11  # 22 contacts, 2 a page
        assert [q.get("after") for q in pages[:3]] == [None, ["2"], ["4"]]
        accounts = (tmp_path / "drop/crm/accounts_hubspot.csv").read_text().splitlines()
        assert len(accounts) == 1 + 6
        assert {line.split(",")[3] for line in accounts[1:]} == {"smb", "mid_market", "enterprise"}
        assert result["rows"]["product/account_memberships_hubspot.csv"] == 22
        assert result["rows"]["crm/cs_activities_hubspot.csv"] == 33
        assert result["rows"]["crm/support_tickets_hubspot.csv"] == 25
    assert result["api_calls"] == len(api.requests)


def test_hubspot_mapping_reads_the_configured_properties(api, tmp_path):
    """Account and user ids from the configured properties, extra company properties carried as
    columns, and records that cannot be rows counted as not written."""
    company = api.hubspot["companies"][0]
    company["properties"]["product_account_id"] = "acc_001"
    api.hubspot["companies"][1]["properties"]["segment"] = None  # written; staging rejects it
    api.hubspot["contacts"][0]["properties"]["email"] = None
    api.hubspot["contacts"][1]["associations"] = []
    api.hubspot["tickets"][0]["associations"] = []
    result = pull(
        "hubspot",
        api,
        tmp_path,
        account_id_property="product_account_id",
        extra_company_properties="numberofemployees",
    )
    assert result["skipped"] == {
        "company without product_account_id": 5,
        "contact without email": 1,
        "contact without company": 1,
        "contact of a company not pulled": 17,
        "ticket without company": 1,
        "ticket of a company not pulled": 20,
        "meeting of a company not pulled": 25,
        "note of a company not pulled": 1,
        "email of a company not pulled": 1,
    }
    accounts = (tmp_path / "drop/crm/accounts_hubspot.csv").read_text().splitlines()
    assert accounts[0].endswith(",created_at,hubspot_numberofemployees")
    assert len(accounts) == 2 and accounts[1].startswith("acc_001,") and accounts[1].endswith(",10")
    memberships = (tmp_path / "drop/product/account_memberships_hubspot.csv").read_text().splitlines()
    assert {line.split(",")[1] for line in memberships[1:]} == {"acc_001"}


def test_stripe_completes_item_and_line_lists_cut_short(api, tmp_path):
    """More items or lines than Stripe embeds: the rest comes from their own list endpoints."""
    subscription = fake.cut_short(api, "subscriptions", 0)
    invoice = fake.cut_short(api, "invoices", 3)
    pull("stripe", api, tmp_path)
    assert api.calls("/v1/subscription_items") == 2 and api.calls(f"/v1/invoices/{invoice['id']}/lines") == 2
    written = {}
    for path in (tmp_path / "drop/billing").glob("*_stripe*.jsonl"):
        written |= {obj["id"]: obj for obj in map(json.loads, path.read_text().splitlines())}
    full = {
        subscription["id"]: api.nested[f"/v1/subscription_items?{subscription['id']}"],
        invoice["id"]: api.nested[f"/v1/invoices/{invoice['id']}/lines"],
    }
    for obj, field in ((subscription, "items"), (invoice, "lines")):
        nested = written[obj["id"]][field]
        assert [row["id"] for row in nested["data"]] == [row["id"] for row in full[obj["id"]]]
        assert len(nested["data"]) == 3 and nested["has_more"] is False


def test_hubspot_associations_primary_company_and_several_companies(api, tmp_path):
    """A contact's primary company is its account; two companies and no primary is ambiguous (not
    written, counted); an engagement with two companies is a touch of each account."""
    first, second = (company["id"] for company in api.hubspot["companies"][:2])
    contacts = api.hubspot["contacts"]
    contacts[0]["associations"] = [(first, "contact_to_company_unlabeled"), (second, "contact_to_company")]
    contacts[1]["associations"] = [
        (first, "contact_to_company_unlabeled"),
        (second, "contact_to_company_unlabeled"),
    ]
    call = api.hubspot["calls"][0]
    call["associations"] = [(first, "call_to_company"), (second, "call_to_company")]
    result = pull("hubspot", api, tmp_path)
    assert result["skipped"] == {"contact with several companies, none primary": 1}
    memberships = (tmp_path / "drop/product/account_memberships_hubspot.csv").read_text().splitlines()
    mine = [
        line.split(",") for line in memberships if line.startswith(contacts[0]["properties"]["email"] + ",")
    ]
    assert [row[1] for row in mine] == [second]
    assert not [line for line in memberships if line.startswith(contacts[1]["properties"]["email"] + ",")]
    activities = (tmp_path / "drop/crm/cs_activities_hubspot.csv").read_text().splitlines()
    touches = sorted(
        line.split(",")[:2] for line in activities if line.startswith(f"hubspot-call-{call['id']}")
    )
    assert touches == sorted(
        [[f"hubspot-call-{call['id']}-{first}", first], [f"hubspot-call-{call['id']}-{second}", second]]
    )


# --------------------------------------------------------------------------------- failures
@pytest.mark.parametrize("name", ["stripe", "hubspot"])
def test_429_with_retry_after_is_retried(name, api, tmp_path):
    api.fail(FIRST_PATH[name], 429, times=2, headers={"Retry-After": "1"})
    result = pull(name, api, tmp_path)
    assert api.calls(FIRST_PATH[name]) == 2 + 3  # 2 refused, then 3 pages (5 customers or 6 companies)
    assert result["api_calls"] == len(api.requests)
    assert (tmp_path / "drop").is_dir() and drop_files(tmp_path)


@pytest.mark.parametrize("name", ["stripe", "hubspot"])
def test_401_stops_with_a_message_naming_the_credential(name, api, tmp_path):
    variable = "SOURCES__STRIPE__API_KEY" if name == "stripe" else "SOURCES__HUBSPOT__ACCESS_TOKEN"
    with pytest.raises(ConnectorError, match=f"refused the credential .*HTTP 401.*{variable}"):
        pull(name, api, tmp_path, api_key="wrong", access_token="wrong")
    assert api.calls() == 1  # not retried
    assert not (tmp_path / "drop").exists()
    with pytest.raises(
        ConnectorError, match=f"no {'api_key' if name == 'stripe' else 'access_token'} configured.*{variable}"
    ):
        CONNECTORS[name].pull(
            tmp_path / "drop", state_dir=tmp_path / "state", config={"base_url": api.url}, progress=False
        )


@pytest.mark.parametrize("name", ["stripe", "hubspot"])
def test_truncated_page_fails_clearly_and_writes_nothing(name, api, tmp_path):
    api.fail(FIRST_PATH[name], 200, body=b'{"object": "list", "data": [{"id": "cus_0')
    with pytest.raises(ConnectorError, match="not valid JSON .*truncated"):
        pull(name, api, tmp_path)
    assert not (tmp_path / "drop").exists()
    assert not (tmp_path / "state" / name / "state.json").exists()


@pytest.mark.parametrize("name", ["stripe", "hubspot"])
def test_5xx_is_retried_then_fails_the_run_before_anything_is_published(name, api, tmp_path):
    """`account-health run --source NAME` against a server that keeps answering 503: each attempt
    is made, the run fails at the pull step, the published file and the drop are untouched."""
    api.fail(FIRST_PATH[name], 503, times=50)
    drop, warehouse = tmp_path / "drop", tmp_path / "wh" / "health.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_bytes(b"the published warehouse")
    env = cli_env()
    prefix = f"SOURCES__{name.upper()}__"
    env.update(
        {prefix + "BASE_URL": api.url, prefix + "API_KEY": fake.TOKEN, prefix + "ACCESS_TOKEN": fake.TOKEN}
    )
    env.update({prefix + key.upper(): str(value) for key, value in FAST_RETRIES.items()})
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--source",
            name,
            "--source-dir",
            str(drop),
            "--warehouse",
            str(warehouse),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "failed step: pull" in completed.stdout
    assert f"HTTP 503 on {FIRST_PATH[name]} after retries" in completed.stdout
    assert api.calls(FIRST_PATH[name]) == 3  # request_max_attempts
    assert warehouse.read_bytes() == b"the published warehouse"
    assert not warehouse.with_name("health.candidate.duckdb").exists()
    assert not any(p.is_file() for p in drop.rglob("*"))


# --------------------------------------------------------------------------- schema evolution
def test_unknown_fields_land_and_show_in_the_load_summary(api, tmp_path):
    """`account-health load --source stripe,hubspot`: a customer with a field Stripe did not have and
    a company property the mapping does not use both land as columns and are named in the summary."""
    api.stripe["customers"][0]["loyalty_tier"] = "gold"
    api.hubspot["companies"][0]["_extra"] = {"customer_tier": "platinum"}
    drop, warehouse = tmp_path / "drop", tmp_path / "wh" / "health.duckdb"
    # events are a required input: the connectors bring billing and CRM, the product sends these
    (drop / "product/events").mkdir(parents=True)
    message = {"messageId": "m1", "type": "track", "userId": "user0@c0.example", "event": "Login"}
    message.update(timestamp="2026-11-20T10:00:00Z", receivedAt="2026-11-20T10:00:01Z")
    (drop / "product/events/events.jsonl").write_text(json.dumps(message) + "\n")
    env = cli_env()
    for name in ("STRIPE", "HUBSPOT"):
        env.update({f"SOURCES__{name}__BASE_URL": api.url, f"SOURCES__{name}__PAGE_SIZE": "100"})
    env.update({"SOURCES__STRIPE__API_KEY": fake.TOKEN, "SOURCES__HUBSPOT__ACCESS_TOKEN": fake.TOKEN})
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "load",
            "--source",
            "stripe,hubspot",
            "--source-dir",
            str(drop),
            "--warehouse",
            str(warehouse),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "unknown fields of customers (landed): loyalty_tier" in out
    assert "unknown fields of companies (landed): properties.customer_tier" in out

    assert "stripe: 4 API call(s), full" in out  # page size 100: one page per list
    candidate = warehouse.with_name("health.candidate.duckdb")
    with duckdb.connect(str(candidate), read_only=True) as con:
        tiers = con.execute(
            "select id, loyalty_tier from raw_stripe.customers where loyalty_tier is not null"
        ).fetchall()
        assert tiers == [("cus_001", "gold")]
        crm = con.execute(
            "select account_id, hubspot_customer_tier from raw_crm.accounts where hubspot_customer_tier <> ''"
        ).fetchall()
        assert crm == [(api.hubspot["companies"][0]["id"], "platinum")]
        assert con.execute("select count(*) from raw_crm.accounts").fetchone() == (6,)
        assert con.execute("select count(*) from raw_crm.support_tickets").fetchone() == (25,)
        assert con.execute("select count(*) from raw_crm.cs_activities").fetchone() == (33,)
        assert con.execute("select count(*) from raw_product.account_memberships").fetchone() == (22,)
        # both line shapes: 5 classic lines with `price` and `subscription`, 5 of 2025-03-31+ with
        # `parent.subscription_item_details` and `pricing.price_details.price`
        shapes = con.execute(
            "select count(*), count(price__id), count(subscription), "
            "count(parent__subscription_item_details__subscription), count(pricing__price_details__price) "
            "from raw_stripe.invoices__lines__data"
        ).fetchone()
        assert shapes == (10, 5, 5, 5, 5)
    run = json.loads(next((warehouse.parent / "runs").glob("*/run.json")).read_text())
    assert {p["source"] for p in run["pulled"]} == {"stripe", "hubspot"}


# ------------------------------------------------------------------------------ incremental
def test_stripe_second_pull_fetches_only_what_changed(api, tmp_path):
    pull("stripe", api, tmp_path)
    before = drop_files(tmp_path)
    api.reset_log()
    unchanged = pull("stripe", api, tmp_path)
    # one page per list (created after the cursor: none) and one page of events
    assert unchanged["mode"] == "incremental" and unchanged["api_calls"] == 5 == len(api.requests)
    assert sum(unchanged["records"].values()) == 0 and unchanged["files"] == []
    assert drop_files(tmp_path) == before

    # a subscription cancelled, an invoice voided, a new customer: only those come back
    cancelled = json.loads(json.dumps(api.stripe["subscriptions"][1]))
    cancelled["status"] = "canceled"
    fake.stripe_event(api, "customer.subscription.updated", cancelled)
    voided = json.loads(json.dumps(api.stripe["invoices"][0]))
    voided["status"] = "void"
    fake.stripe_event(api, "invoice.voided", voided)
    renamed = json.loads(json.dumps(api.stripe["customers"][2]))
    renamed["name"] = "Company 3, renamed"
    fake.stripe_event(api, "customer.updated", renamed)
    new = json.loads(json.dumps(api.stripe["customers"][0]))
    new.update(id="cus_006", created=api.stripe["customers"][-1]["created"] + 10)
    api.stripe["customers"].append(new)
    api.reset_log()
    changed = pull("stripe", api, tmp_path)
    assert changed["records"] == {"customers": 2, "subscriptions": 1, "invoices": 1, "prices": 0}
    # 4 lists (one page each) and the 3 events on 2 pages (2 a page, `starting_after` the 2nd)
    assert changed["api_calls"] == 6 == len(api.requests)
    assert [q.get("starting_after") for _, path, q in api.requests if path == "/v1/events"] == [
        None,
        ["evt_0002"],
    ]
    month = changed["files"]
    assert sorted(month) == sorted(
        [
            "billing/customers_stripe.jsonl",
            "billing/subscriptions_stripe.jsonl",
            f"billing/invoices_stripe_{_month(voided)}.jsonl",
        ]
    )
    subscriptions = [
        json.loads(line)
        for line in (tmp_path / "drop/billing/subscriptions_stripe.jsonl").read_text().splitlines()
    ]
    assert len(subscriptions) == 5
    assert {s["id"]: s["status"] for s in subscriptions}["sub_002"] == "canceled"
    customers = (tmp_path / "drop/billing/customers_stripe.jsonl").read_text().splitlines()
    assert [json.loads(line)["name"] for line in customers][2:] == [
        "Company 3, renamed",
        "Company 4",
        "Company 5",
        "Company 1",
    ]


def test_stripe_pulls_in_full_when_events_expired_or_files_changed(api, tmp_path):
    """Past Stripe's event retention, or with the files of the last pull edited, an incremental
    pull could miss changes: it pulls in full instead. A deleted customer is marked deleted, and a
    pinned API version is sent on every call."""
    pull("stripe", api, tmp_path)
    state_file = tmp_path / "state/stripe/state.json"
    state = json.loads(state_file.read_text())
    state["events_since"] -= 31 * 86_400
    state_file.write_text(json.dumps(state))
    api.reset_log()
    assert pull("stripe", api, tmp_path)["mode"] == "full"
    assert api.calls("/v1/events") == 0 and api.calls("/v1/customers") == 3

    customers = tmp_path / "drop/billing/customers_stripe.jsonl"
    customers.write_text(customers.read_text().replace("Company 1", "Company One"))
    assert pull("stripe", api, tmp_path)["mode"] == "full"
    assert "Company One" not in customers.read_text()

    fake.stripe_event(api, "customer.deleted", api.stripe["customers"][4])
    api.reset_log()
    result = pull("stripe", api, tmp_path, api_version="2025-03-31.basil")
    assert result["mode"] == "incremental" and result["records"]["customers"] == 1
    assert {h.get("Stripe-Version") for h in api.headers} == {"2025-03-31.basil"}
    deleted = {c["id"]: c.get("deleted") for c in map(json.loads, customers.read_text().splitlines())}
    assert deleted["cus_005"] is True and deleted["cus_001"] is None


def _month(invoice: dict) -> str:
    import time

    return time.strftime("%Y-%m", time.gmtime(invoice["created"]))


def test_hubspot_second_pull_fetches_only_what_changed(api, tmp_path):
    pull("hubspot", api, tmp_path)
    before = drop_files(tmp_path)
    api.reset_log()
    unchanged = pull("hubspot", api, tmp_path)
    # owners (5 at 2 a page: 3 pages), the ticket stages, one search per object type (7)
    assert unchanged["mode"] == "incremental" and unchanged["api_calls"] == 11 == len(api.requests)
    assert sum(unchanged["records"].values()) == 0 and unchanged["files"] == []
    assert drop_files(tmp_path) == before

    for ticket in api.hubspot["tickets"][:3]:
        ticket["properties"]["hs_ticket_priority"] = "URGENT"
        fake.touch(ticket)
    contact = api.hubspot["contacts"][0]
    moved_to = api.hubspot["companies"][1]["id"]
    contact["associations"] = [(moved_to, "contact_to_company")]
    fake.touch(contact)
    api.reset_log()
    changed = pull("hubspot", api, tmp_path)
    assert changed["records"]["tickets"] == 3 and changed["records"]["contacts"] == 1
    assert sum(changed["records"].values()) == 4
    # + a 2nd page of ticket search (the cursor in the body) + associations of tickets and contacts
    assert changed["api_calls"] == 11 + 1 + 2 == len(api.requests)
    searches = [path for _, path, _ in api.requests if path == "/crm/v3/objects/tickets/search"]
    assert len(searches) == 2
    assert sorted(changed["files"]) == [
        "crm/support_tickets_hubspot.csv",
        "product/account_memberships_hubspot.csv",
    ]
    memberships = (tmp_path / "drop/product/account_memberships_hubspot.csv").read_text().splitlines()
    mine = [line for line in memberships if line.startswith(contact["properties"]["email"] + ",")]
    # the old membership is closed today, the new one opens today
    assert len(mine) == 2
    assert any(line.split(",")[1] == moved_to and line.endswith(",") for line in mine)
    assert any(line.split(",")[1] != moved_to and line.split(",")[4] for line in mine)


# --------------------------------------------------------------------- the warehouse, twice
def test_pulling_and_loading_the_same_data_again_changes_nothing(api, tmp_path):
    from pipelines.load import load_drop

    warehouse, scratch = tmp_path / "wh.duckdb", str(tmp_path / "dlt")
    configs = {name: config(api) for name in CONNECTORS}
    results = pull_all(
        ["stripe", "hubspot"], tmp_path / "drop", tmp_path / "state", progress=False, configs=configs
    )
    assert describe(results)[0].startswith("  stripe: ")
    first = load_drop(tmp_path / "drop", warehouse, progress=False, pipelines_dir=scratch)
    assert first["files_loaded"]

    def snapshot() -> dict[str, list]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return {
                table: con.execute(
                    f"select * exclude (_dlt_load_id, _dlt_id) from {table} order by all"
                ).fetchall()
                for table in (
                    "raw_stripe.customers",
                    "raw_stripe.subscriptions",
                    "raw_stripe.invoices",
                    "raw_crm.accounts",
                    "raw_crm.support_tickets",
                    "raw_crm.cs_activities",
                    "raw_product.account_memberships",
                )
            } | {
                "quarantined": con.execute(
                    "select count(*) from raw_stripe.quarantined_records "
                    "union all select count(*) from raw_crm.quarantined_records"
                ).fetchall()
            }

    before = snapshot()
    assert before["quarantined"] == [(0,), (0,)]
    pull_all(["stripe", "hubspot"], tmp_path / "drop", tmp_path / "state", progress=False, configs=configs)
    second = load_drop(tmp_path / "drop", warehouse, progress=False, pipelines_dir=scratch)
    assert second["files_loaded"] == [] and second["rows"] == {}
    assert snapshot() == before

    # an updated subscription replaces its row: no rejection, no second row
    cancelled = json.loads(json.dumps(api.stripe["subscriptions"][0]))
    cancelled["status"] = "canceled"
    fake.stripe_event(api, "customer.subscription.deleted", cancelled)
    pull_all(["stripe"], tmp_path / "drop", tmp_path / "state", progress=False, configs=configs)
    third = load_drop(tmp_path / "drop", warehouse, progress=False, pipelines_dir=scratch)
    assert third["files_loaded"] == ["billing/subscriptions_stripe.jsonl"]
    after = snapshot()
    assert after["quarantined"] == [(0,), (0,)]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*), count(distinct id) from raw_stripe.subscriptions"
        ).fetchone() == (5, 5)
        assert con.execute("select status from raw_stripe.subscriptions where id = 'sub_001'").fetchone() == (
            "canceled",
        )
        assert con.execute("select count(*) from raw_stripe.subscriptions__items__data").fetchone() == (5,)


def test_cli_rejects_an_unknown_source(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "load",
            "--source",
            "salesforce",
            "--source-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "unknown source 'salesforce'" in completed.stderr
    assert os.listdir(tmp_path) == []


def test_stripe_pull_lands_the_same_raw_tables_as_the_export(tmp_path):
    """The demo company's Stripe export served by the API and pulled lands, row for row, what the
    export itself lands (only the file names and load stamps differ): nothing downstream changes."""
    from pipelines.demo import generate
    from pipelines.load import load_drop

    export = tmp_path / "export"
    generate(tmp_path / "demo", accounts=12, days=40, seed=7, bad_records=False, progress=False)
    (export / "billing").mkdir(parents=True)
    data = fake.FakeApi()
    for path in sorted((tmp_path / "demo/billing").glob("*.jsonl")):
        (export / "billing" / path.name).write_bytes(path.read_bytes())
        data.stripe[path.stem] = [json.loads(line) for line in path.read_text().splitlines()]
    with fake.ApiServer(data) as server:
        data.url = server.url
        result = pull("stripe", data, tmp_path)
    assert result["records"]["invoices"] == len(data.stripe["invoices"]) > 12
    scratch = str(tmp_path / "dlt")
    load_drop(export, tmp_path / "export.duckdb", progress=False, pipelines_dir=scratch)
    load_drop(tmp_path / "drop", tmp_path / "pulled.duckdb", progress=False, pipelines_dir=scratch)
    stamps = "_source_file, _loaded_at, _dlt_load_id, _dlt_id"
    tables = {
        "customers": stamps,
        "subscriptions": stamps,
        "invoices": stamps,
        "subscriptions__items__data": "_source_file, _loaded_at, _dlt_id, _dlt_parent_id, _dlt_root_id",
        "invoices__lines__data": "_source_file, _loaded_at, _dlt_id, _dlt_parent_id, _dlt_root_id",
    }
    for table, excluded in tables.items():
        rows = []
        for name in ("export", "pulled"):
            with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as con:
                cursor = con.execute(f"select * exclude ({excluded}) from raw_stripe.{table}")
                names = [column[0] for column in cursor.description]
                # columns by name: the pull writes keys sorted, so dlt meets them in another order
                rows.append(
                    sorted(
                        tuple(sorted(zip(names, map(repr, row), strict=True))) for row in cursor.fetchall()
                    )
                )
        assert rows[0] and rows[0] == rows[1], table


def test_settings_come_from_dlt_toml_files_and_the_environment_wins(tmp_path):
    """`.dlt/secrets.toml` and `.dlt/config.toml` of the working folder, environment variables over
    them, dlt's `runtime` retry settings for every connector (a fresh process: dlt reads them once)."""
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt/secrets.toml").write_text('[sources.stripe]\napi_key = "from-file"\npage_size = 7\n')
    (tmp_path / ".dlt/config.toml").write_text(
        '[runtime]\nrequest_max_attempts = 2\n[sources.hubspot]\nsegment_property = "tier"\n'
    )
    env = cli_env() | {"SOURCES__STRIPE__PAGE_SIZE": "9", "SOURCES__HUBSPOT__ACCESS_TOKEN": "from-env"}
    code = (
        "import json; from pipelines.connectors import connector_config as c; "
        "from pipelines.connectors import stripe, hubspot; "
        "print(json.dumps([c('stripe', stripe.CONFIG_KEYS), c('hubspot', hubspot.CONFIG_KEYS)]))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    stripe_config, hubspot_config = json.loads(completed.stdout.strip().splitlines()[-1])
    assert stripe_config == {"api_key": "from-file", "page_size": "9", "request_max_attempts": 2}
    assert hubspot_config == {
        "access_token": "from-env",
        "segment_property": "tier",
        "request_max_attempts": 2,
    }
