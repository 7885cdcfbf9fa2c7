"""`account-health notify` against real local receivers: an HTTP server (Slack-compatible and
generic JSON webhooks) and an aiosmtpd SMTP server, both on 127.0.0.1, and a hand-made published
warehouse (a real DuckDB file with the marts' contract columns plus extra ones).

Hand-computed expectations, as of 2026-12-05 with a 7-day look-back (2026-11-29 .. 2026-12-05):
alerts a1, a2 (Acme, ARR 120,000, owner Alice), a3 (Initech: no billing, no owner), a4 (Globex,
a rule type the project does not know) and signal s1 (Globex) are in the window; one alert and one
signal from the autumn are older and only marked seen; Alice and Bob each get one weekly digest.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from pipelines.config import load_settings
from pipelines.notify import cli as notify_cli
from pipelines.notify.config import ConfigError, load_config, parse_config
from pipelines.notify.items import WarehouseError, build_items, format_arr, read_marts
from pipelines.notify.outbox import Outbox, state_path
from pipelines.notify.run import notify, queue, status_lines
from tests.python.dbt_support import cli_env

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = "http://app.example"
EVIDENCE_A1 = "health 28, down 19 in 30 days: adoption -12, recency -7"

MARTS_SQL = """
create schema marts;
create table marts.dim_accounts as select * from (values
    ('acc_1', 'Acme Corp', 'enterprise', 'Alice Moreau', 'active', 120000.0, 10000.0, 50,
     date '2027-01-14', 40, 28.0, 'Champions', true, 'low_health', date '2026-12-05', 'extra'),
    ('acc_2', 'Globex', 'smb', 'Bob Lin', 'active', 12000.0, 1000.0, 10,
     date '2027-06-23', 200, 75.0, 'Champions', false, null, date '2026-12-05', 'extra'),
    ('acc_3', 'Initech', 'mid_market', null, null, null, null, null,
     null, null, 35.0, null, true, 'low_health', date '2026-12-05', 'extra')
) as t(account_id, account_name, segment, csm_owner, subscription_status, arr, mrr, licensed_seats,
       renewal_date, days_to_renewal, health_score, quadrant, is_at_risk, at_risk_reason, as_of_date,
       some_new_column);
create table marts.fct_health_alerts as select * from (values
    ('acc_1|health_drop|2026-12-03', 'acc_1', date '2026-12-03', 'health_drop', 'medium', 120000.0,
     'Health score dropped 19.0 points in 30 days (to 28.0)'),
    ('acc_1|low_health|2026-12-04', 'acc_1', date '2026-12-04', 'low_health', 'high', 120000.0,
     'Health score 28.0 fell below 30'),
    ('acc_3|no_login|2026-12-01', 'acc_3', date '2026-12-01', 'no_login', 'medium', 0.0,
     'No product activity for 21 days'),
    ('acc_2|sentiment_crash|2026-12-05', 'acc_2', date '2026-12-05', 'sentiment_crash', 'low', 12000.0,
     'CSM sentiment turned negative'),
    ('acc_2|no_human_cs_touch|2026-10-01', 'acc_2', date '2026-10-01', 'no_human_cs_touch', 'low',
     12000.0, 'No human CS touch for 60 days')
) as t(alert_id, account_id, alerted_on, alert_type, severity, arr, message);
create table marts.fct_expansion_signals as select * from (values
    ('acc_2|seat_utilisation|2026-12-02', 'acc_2', date '2026-12-02', 'seat_utilisation', 0.92),
    ('acc_2|quota_threshold|2026-09-15', 'acc_2', date '2026-09-15', 'quota_threshold', 3.0)
) as t(signal_id, account_id, signaled_on, signal_type, signal_value);
create table marts.fct_quadrant_movements as select * from (values
    ('acc_1|2026-11-30', 'acc_1', date '2026-11-30', date '2026-12-05', 'Champions',
     'Frustrated Power Users', true),
    ('acc_2|2026-11-30', 'acc_2', date '2026-11-30', date '2026-12-05', 'Relationship-Dependent',
     'Champions', false)
) as t(quadrant_movement_id, account_id, week_start, scored_on, from_quadrant, to_quadrant,
       needs_attention);
create table marts.fct_account_health_daily as select * from (values
    ('acc_1', date '2026-12-03', 28.0, -19.0, -6.8, -12.2, 0.1, 0.0, 0.0, 0.0),
    ('acc_1', date '2026-12-04', 27.6, -19.4, -7.0, -12.4, 0.0, 0.0, 0.0, 0.0)
) as t(account_id, date_day, health_score, health_score_delta_30d, recency_contribution_30d,
       adoption_contribution_30d, depth_contribution_30d, breadth_contribution_30d,
       cs_engagement_contribution_30d, override_contribution_30d);
"""

PEOPLE = """
app_base_url = "http://app.example/"
[people."Alice Moreau"]
email = "alice@example.com"
slack = "<@U0ALICE>"
[people."Bob Lin"]
email = "bob@example.com"
"""


def make_warehouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "health.duckdb"
    con = duckdb.connect(str(path))
    con.execute(MARTS_SQL)
    con.close()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver(ThreadingHTTPServer):
    """A local HTTP receiver recording each POST; `answer` decides the response status and body."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.answer = lambda request: (200, b"ok")
        self.on_request = None
        super().__init__(("127.0.0.1", port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        self.server.requests.append(request)
        if self.server.on_request:
            self.server.on_request(request)
        status, payload = self.server.answer(request)
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def receiver():
    server = Receiver()
    yield server
    server.close()


class _Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture()
def smtp_server():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def config_for(text: str, **env):
    return parse_config(tomllib.loads(PEOPLE + text), env=env)


def http_config(url: str):
    return config_for(
        f"""
[channels.cs_slack]
type = "slack"
url = "{url}/slack"
[channels.crm]
type = "webhook"
url_env = "CRM_URL"
token_env = "CRM_TOKEN"
[[routes]]
name = "risk alerts to the CS channel"
kinds = ["alert"]
channel = "cs_slack"
[[routes]]
name = "big accounts' alerts become CRM tasks"
kinds = ["alert"]
min_arr = 50000
channel = "crm"
[[routes]]
name = "expansion to sales"
kinds = ["signal"]
channel = "crm"
to = ["sales@example.com"]
[next_steps]
low_health = "Call Acme's champion today."
""",
        CRM_URL=f"{url}/tasks",
        CRM_TOKEN="s3cret",
    )


def by_path(receiver: Receiver, path: str) -> list[dict]:
    return [r for r in receiver.requests if r["path"] == path]


def test_http_delivery_names_what_to_act_on_and_a_second_run_sends_nothing(tmp_path, receiver):
    warehouse = make_warehouse(tmp_path)
    config = http_config(receiver.url)
    result = notify(warehouse, config)

    assert str(result.window_start) == "2026-11-29"
    assert result.marked_seen == 2  # the autumn alert and signal
    slack, tasks = by_path(receiver, "/slack"), by_path(receiver, "/tasks")
    assert len(slack) == 4  # a1, a2, a3, a4
    assert len(tasks) == 3  # a1, a2 (ARR >= 50,000; Initech's unknown ARR does not pass) and s1
    assert result.deliveries_sent == 7 and result.ok
    assert not any("2026-10-01" in json.dumps(r["json"]) for r in receiver.requests)

    texts = {r["json"]["text"].split("\n")[0]: r["json"]["text"] for r in slack}
    drop = next(text for first, text in texts.items() if "health drop" in first)
    assert "<http://app.example/account_detail?account_id=acc_1|Acme Corp>" in drop
    assert "*ARR* 120,000" in drop and "*segment* enterprise" in drop
    assert f"*Numbers:* {EVIDENCE_A1}" in drop
    assert "Health score dropped 19.0 points in 30 days (to 28.0)" in drop
    assert "*owner* <@U0ALICE> (Alice Moreau)" in drop
    low = next(text for first, text in texts.items() if "low health" in first)
    assert "*Next step:* Call Acme's champion today." in low  # configured text
    no_owner = next(text for first, text in texts.items() if "Initech" in first)
    assert "*ARR* unknown (no billing)" in no_owner and "*owner* no CSM owner" in no_owner
    foreign = next(text for first, text in texts.items() if "sentiment crash" in first)
    assert "Open the account page, review what changed" in foreign  # default next step

    task = next(r for r in tasks if r["json"]["type"] == "health_drop")
    assert task["headers"]["Authorization"] == "Bearer s3cret"
    assert task["headers"]["Idempotency-Key"] == task["json"]["idempotency_key"]
    assert task["json"]["account"] == {
        "id": "acc_1",
        "name": "Acme Corp",
        "segment": "enterprise",
        "arr": 120000.0,
        "subscription_status": "active",
        "owner": "Alice Moreau",
    }
    assert task["json"]["assignee"] == {"name": "Alice Moreau", "email": "alice@example.com"}
    assert task["json"]["numbers"]["adoption_contribution_30d"] == -12.2
    signal_task = next(r for r in tasks if r["json"]["kind"] == "signal")
    assert signal_task["json"]["assignee"] == {"name": None, "email": "sales@example.com"}
    assert signal_task["json"]["evidence"] == "92% of licensed seats active in 30 days"
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert len(set(keys)) == len(keys)

    again = notify(warehouse, config)
    assert (again.queued, again.deliveries_sent, again.marked_seen) == (0, 0, 0)
    assert len(receiver.requests) == 7

    # the next publish brings one new alert: only it goes out
    con = duckdb.connect(str(warehouse))
    con.execute(
        "insert into marts.fct_health_alerts values ('acc_1|no_login|2026-12-06', 'acc_1', "
        "date '2026-12-06', 'no_login', 'medium', 120000.0, 'No product activity for 21 days')"
    )
    con.execute("update marts.dim_accounts set as_of_date = date '2026-12-06'")
    con.close()
    third = notify(warehouse, config)
    assert third.deliveries_sent == 2  # Slack and the CRM task
    assert [r["json"].get("type") for r in receiver.requests[7:]].count("no_login") == 1


def test_email_digest_one_per_recipient_with_the_weekly_review(tmp_path, smtp_server):
    controller, mailbox = smtp_server
    warehouse = make_warehouse(tmp_path)
    config = config_for(
        f"""
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {controller.port}
from = "health@example.com"
[[routes]]
name = "everything to the owner"
channel = "mail"
[[routes]]
name = "expansion to sales"
kinds = ["signal"]
channel = "mail"
to = ["sales@example.com"]
"""
    )
    result = notify(warehouse, config)

    recipients = sorted(rcpt[0] for rcpt, _ in mailbox.messages)
    assert recipients == ["alice@example.com", "bob@example.com", "sales@example.com"]
    assert result.failed_now == 1  # Initech's alert: no csm_owner, so no address
    mails = {rcpt[0]: message for rcpt, message in mailbox.messages}
    alice = mails["alice@example.com"]
    assert alice["Subject"] == "Account health: weekly review, 2 alerts"
    body = alice.get_payload(decode=True).decode()
    assert "Weekly review: Weekly account review for Alice Moreau, week of 2026-11-30" in body
    assert "- Acme Corp (ARR 120,000): moved from Champions to Frustrated Power Users [2026-12-05]" in body
    assert "renews 2027-01-14 (in 40 days), health 28, at risk: low_health" in body
    assert "http://app.example/account_detail?account_id=acc_1" in body
    assert f"Numbers: {EVIDENCE_A1}" in body
    assert body.index("Weekly review:") < body.index("Alert: Acme Corp: health drop")
    bob = mails["bob@example.com"].get_payload(decode=True).decode()
    assert "At-risk renewals in the next 60 days: 0" in bob
    assert "seat_utilisation: 92% of licensed seats active in 30 days" in bob
    assert mails["sales@example.com"]["Subject"] == "Account health: 1 expansion signal"
    assert mails["alice@example.com"]["Message-ID"].endswith("@account-health>")

    lines = status_lines(warehouse)
    assert lines[0].startswith("notifications: 0 pending, 1 failed, 7 sent, 2 older items marked seen")
    assert any("no csm_owner" in line and "acc_3|no_login" in line for line in lines)

    again = notify(warehouse, config)
    assert again.deliveries_sent == 0 and len(mailbox.messages) == 3


def test_receiver_down_keeps_everything_pending_and_the_next_run_delivers_it_once(tmp_path):
    warehouse = make_warehouse(tmp_path)
    port = free_port()  # nothing listens there yet
    config = load_config(None, webhook_url=f"http://127.0.0.1:{port}/hook")
    down = notify(warehouse, config)
    assert down.deliveries_sent == 0 and down.pending == 7  # 4 alerts, 1 signal, 2 digests
    lines = status_lines(warehouse)
    assert lines[0].startswith("notifications: 7 pending, 0 failed, 0 sent")
    assert "receiver unreachable" in lines[1]  # the attempted one first, with the reason
    outbox = Outbox(state_path(warehouse))
    attempts = sorted(row["attempts"] for row in outbox.pending())
    outbox.close()
    assert attempts == [0] * 6 + [1]  # one try, the rest not hammered while it is down

    server = Receiver(port)
    try:
        server.answer = lambda request: (503, b"busy") if len(server.requests) == 1 else (200, b"ok")
        busy = notify(warehouse, config)
        assert (busy.deliveries_sent, busy.pending) == (6, 1)  # a 503 is retried next run
        up = notify(warehouse, config)
        assert (up.deliveries_sent, up.pending) == (1, 0)
        keys = [r["headers"]["Idempotency-Key"] for r in server.requests]
        assert len(set(keys)) == 7
        kinds = sorted(r["json"]["kind"] for r in server.requests[1:])
        assert kinds == ["alert"] * 4 + ["digest"] * 2 + ["signal"]
    finally:
        server.close()


def test_a_4xx_fails_with_the_receivers_message_and_waits_for_retry_failed(tmp_path, receiver):
    warehouse = make_warehouse(tmp_path)
    receiver.answer = lambda request: (422, b'{"error": "assignee not found"}')
    config = load_config(None, webhook_url=f"{receiver.url}/hook")
    result = notify(warehouse, config)
    assert result.failed_now == 7 and result.pending == 0 and len(receiver.requests) == 7
    lines = status_lines(warehouse)
    assert "7 failed" in lines[0]
    assert 'HTTP 422 Unprocessable Entity: {"error": "assignee not found"}' in lines[1]
    assert "--retry-failed" in lines[-1]

    assert notify(warehouse, config).failed_now == 0 and len(receiver.requests) == 7  # not retried

    receiver.answer = lambda request: (200, b"ok")
    retried = notify(warehouse, config, retry_failed=True)
    assert (retried.retried, retried.deliveries_sent) == (7, 7)
    assert len(receiver.requests) == 14


def test_a_crash_between_send_and_ack_resends_only_the_unacknowledged(tmp_path, receiver):
    """The CLI is killed (SIGKILL) by the receiver while the 3rd request waits for its answer: the
    receiver has it, the sender never learned. The next run resends that one with the same key."""
    warehouse = make_warehouse(tmp_path)
    command = [sys.executable, "-m", "pipelines.cli", "notify", "--warehouse", str(warehouse)]
    command += ["--webhook-url", f"{receiver.url}/hook"]
    child = subprocess.Popen(command, env=cli_env(), cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)

    def kill_on_third(request):
        if len(receiver.requests) == 3:
            child.send_signal(signal.SIGKILL)
            time.sleep(0.5)

    receiver.on_request = kill_on_third
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    first_keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert len(first_keys) == 3

    receiver.on_request = None
    rerun = subprocess.run(command, env=cli_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "sent 5 deliveries" in rerun.stdout
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert keys[3] == first_keys[2]  # the unacknowledged one, resent first, same key
    assert sorted(keys).count(first_keys[0]) == 1 and sorted(keys).count(first_keys[1]) == 1
    assert len(keys) == 8 and len(set(keys)) == 7  # a receiver deduplicating by key saw 7 once each

    status = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "status", "--warehouse", str(warehouse)],
        env=cli_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "notifications: 0 pending, 0 failed, 7 sent, 2 older items marked seen" in status.stdout


def test_run_notifies_after_publishing_only_when_configured(tmp_path, receiver, caplog):
    warehouse = make_warehouse(tmp_path)
    settings = load_settings(tmp_path / "drop", warehouse)
    notify_cli.step_after_run(settings)  # no notify.toml: nothing happens, no outbox
    assert not state_path(warehouse).exists() and receiver.requests == []
    (tmp_path / "notify.toml").write_text("[channels.hook\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        notify_cli.step_after_run(settings)  # a broken config is reported, never raised into `run`
    assert "notify after publish did not run" in caplog.text and "not valid TOML" in caplog.text
    (tmp_path / "notify.toml").write_text(
        f'[channels.hook]\ntype = "webhook"\nurl = "{receiver.url}/hook"\n'
        '[[routes]]\nchannel = "hook"\nkinds = ["digest"]\n',
        encoding="utf-8",
    )
    notify_cli.step_after_run(settings)
    assert sorted(r["json"]["assignee"]["name"] for r in receiver.requests) == ["Alice Moreau", "Bob Lin"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[channels.x]\ntype = "sms"\n', "type must be one of slack, webhook, email"),
        (
            '[channels.x]\ntype = "slack"\nurl_env = "NOPE_UNSET"\n',
            "url_env names NOPE_UNSET, which is not set",
        ),
        ('[channels.x]\ntype = "webhook"\nurl = "http://h/x"\n[[routes]]\nchannel = "y"\n', "channel 'y'"),
        ('[channels.x]\ntype = "webhook"\nurl = "http://h/x"\n', "no [[routes]]"),
        ('lookback_days = 0\n[channels.x]\ntype = "webhook"\nurl = "http://h/x"\n', "lookback_days"),
        (
            '[channels.x]\ntype = "webhook"\nurl = "http://h/x"\n'
            '[[routes]]\nchannel = "x"\nkinds = ["memo"]\n',
            "unknown kinds ['memo']",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "notify.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)


def test_notify_without_any_config_says_how_to_configure(tmp_path):
    warehouse = make_warehouse(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "notify", "--warehouse", str(warehouse)],
        env=cli_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "no notification config" in run.stderr and "--webhook-url" in run.stderr


def test_the_example_config_parses_and_overlapping_routes_queue_once(tmp_path):
    secrets = {
        "NOTIFY_SLACK_WEBHOOK_URL": "http://127.0.0.1:1/slack",
        "NOTIFY_SMTP_PASSWORD": "pw",
        "NOTIFY_CRM_TASK_URL": "http://127.0.0.1:1/tasks",
        "NOTIFY_CRM_TOKEN": "tok",
    }
    example = parse_config(tomllib.loads((REPO_ROOT / "notify.example.toml").read_text()), env=secrets)
    assert set(example.channels) == {"cs_slack", "cs_email", "crm_tasks"}
    assert example.channels["cs_email"].password == "pw"
    assert example.next_step("no_login").startswith("Contact the admin")  # built-in, not overridden
    assert (
        example.next_step("quadrant_move") == "Review the move in Monday's CS review and act within 24 hours."
    )

    warehouse = make_warehouse(tmp_path)
    config = config_for(
        '[channels.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:1/x"\n'
        '[[routes]]\nchannel = "hook"\nkinds = ["alert"]\n'
        '[[routes]]\nchannel = "hook"\nkinds = ["alert"]\nsegments = ["enterprise"]\n'
    )
    marts = read_marts(warehouse, 7)
    outbox = Outbox(state_path(warehouse))
    try:
        queued, seen = queue(outbox, config, build_items(config, marts), marts.window_start)
        assert (queued, seen) == (4, 2)  # a1 and a2 match both routes, once each per key
        assert queue(outbox, config, build_items(config, marts), marts.window_start) == (0, 0)
    finally:
        outbox.close()


def test_a_warehouse_without_optional_columns_still_notifies_and_a_missing_mart_is_named(tmp_path, receiver):
    warehouse = make_warehouse(tmp_path)
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.fct_account_health_daily")
    con.execute("alter table marts.dim_accounts drop column as_of_date")
    con.close()
    result = notify(warehouse, load_config(None, webhook_url=f"{receiver.url}/hook"))
    assert str(result.as_of) == "2026-12-05"  # the latest alert or signal day
    drop = next(r["json"] for r in receiver.requests if r["json"]["type"] == "health_drop")
    assert drop["evidence"] is None and "Numbers:" not in drop["body"]
    assert "Health score dropped 19.0 points in 30 days (to 28.0)" in drop["body"]

    con = duckdb.connect(str(warehouse))
    for table in ("dim_accounts", "fct_health_alerts", "fct_expansion_signals", "fct_quadrant_movements"):
        con.execute(f"delete from marts.{table}")
    con.close()
    empty = notify(warehouse, load_config(None, webhook_url=f"{receiver.url}/hook"))
    assert empty.ok and empty.queued == 0 and len(receiver.requests) == 7  # nothing to tell is no error

    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.fct_expansion_signals")
    con.close()
    with pytest.raises(WarehouseError, match="does not publish marts.fct_expansion_signals"):
        notify(warehouse, load_config(None, webhook_url=f"{receiver.url}/hook"))


def test_a_gap_between_runs_loses_nothing_and_a_new_week_brings_a_new_digest(tmp_path, receiver):
    warehouse = make_warehouse(tmp_path)
    config = load_config(None, webhook_url=f"{receiver.url}/hook")
    assert notify(warehouse, config).deliveries_sent == 7
    # two weeks later: an alert from between the runs (before this as-of's own 7 days), and one
    # from long ago that a rebuild produced: the first is news, the second is not
    con = duckdb.connect(str(warehouse))
    con.execute(
        "insert into marts.fct_health_alerts values "
        "('acc_2|no_login|2026-12-10', 'acc_2', date '2026-12-10', 'no_login', 'medium', 12000.0, 'x'), "
        "('acc_2|low_health|2026-11-01', 'acc_2', date '2026-11-01', 'low_health', 'high', 12000.0, 'y')"
    )
    con.execute("update marts.dim_accounts set as_of_date = date '2026-12-20'")
    con.close()
    later = notify(warehouse, config)
    assert str(later.window_start) == "2026-11-29"  # the previous as-of's window, not 2026-12-14's
    assert later.marked_seen == 1
    new = [(r["json"]["kind"], r["json"]["item_id"]) for r in receiver.requests[7:]]
    assert sorted(new) == [
        ("alert", "acc_2|no_login|2026-12-10"),
        ("digest", "digest|Alice Moreau|2026-12-14"),
        ("digest", "digest|Bob Lin|2026-12-14"),
    ]
    again = notify(warehouse, config)  # the window now starts from 2026-12-20's
    assert (str(again.window_start), again.queued) == ("2026-12-14", 0)


def test_arr_reads_as_unknown_without_billing_and_says_why_it_is_zero():
    assert format_arr(None) == "unknown (no billing)"
    assert format_arr(120000.0, "active") == "120,000"
    assert format_arr(0, "canceled") == "0 (subscription canceled)"


def test_an_answer_that_is_not_http_leaves_the_delivery_pending(tmp_path):
    warehouse = make_warehouse(tmp_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer_garbage():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"SMTP? no: garbage\r\n\r\n")
        connection.close()

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    result = notify(warehouse, load_config(None, webhook_url=f"http://127.0.0.1:{port}/hook"))
    listener.close()
    assert result.deliveries_sent == 0 and result.pending == 7
    assert "receiver unreachable" in status_lines(warehouse)[1]
