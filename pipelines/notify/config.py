"""The notification configuration: channels, routing rules, people, next steps, in one TOML file.

Where it is read from, first match wins: `--config PATH`, the env var `ACCOUNT_HEALTH_NOTIFY_CONFIG`,
`notify.toml` beside the warehouse. `notify.example.toml` documents every key. Secrets (webhook URLs
with tokens, SMTP passwords, API tokens) are named by environment variable (`*_env` keys), so the
file itself can be committed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_ENV = "ACCOUNT_HEALTH_NOTIFY_CONFIG"
CONFIG_NAME = "notify.toml"

KINDS = ("alert", "signal", "digest")
CHANNEL_TYPES = ("slack", "webhook", "email")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# What to do next, per alert or signal type; `[next_steps]` in the file overrides any of them.
# A type the project does not know (a newer rule) gets `default`, never nothing.
DEFAULT_NEXT_STEPS = {
    "low_health": "Call the account's main contact this week, find what is blocking them and agree a "
    "recovery plan; log it in the CRM.",
    "health_drop": "Look at the components that fell on the account page, then reach out within 48 hours "
    "with a specific offer of help.",
    "declining_3_weeks": "Book a health check call before the trend reaches the renewal; review adoption "
    "of key features with the customer.",
    "no_login": "Contact the admin and the champion: confirm they still use the product, and offer "
    "onboarding for new users.",
    "no_human_cs_touch": "Schedule a human touch (call or meeting) within two weeks.",
    "quadrant_move": "Review the move in this week's CS review and act within 24 hours: outreach by the "
    "CSM, escalation to the VP CS for strategic accounts, a note to the PM liaison if product-driven.",
    "seat_utilisation": "Seats are nearly full: talk to the buyer about adding seats before users are "
    "turned away.",
    "feature_gate_hits": "Users keep hitting paywalled features: propose the plan that unlocks them.",
    "power_user_concentration": "One user carries the account: find a second champion and plan "
    "wider rollout (and the seats it needs).",
    "quota_threshold": "The account is near its quota: propose the next tier before it hits the limit.",
    "healthy_no_contact": "Healthy and not contacted for long: a sales or CS check-in about expansion.",
    "default": "Open the account page, review what changed, and decide an owner and a next step.",
}


class ConfigError(ValueError):
    """The notification configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Channel:
    name: str
    type: str  # slack | webhook | email
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # email
    host: str | None = None
    port: int = 25
    sender: str | None = None
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False


@dataclass(frozen=True)
class Route:
    """Which items go to which channel and recipients. An empty filter matches everything."""

    name: str
    channel: str
    kinds: tuple[str, ...] = KINDS
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    min_arr: float | None = None
    max_arr: float | None = None
    # "owner" (the account's csm_owner; for a digest, its CSM) or a list of literal recipients
    to: tuple[str, ...] = ("owner",)


@dataclass(frozen=True)
class Person:
    email: str | None = None
    slack: str | None = None  # a mention such as <@U024BE7LH>


@dataclass(frozen=True)
class NotifyConfig:
    channels: dict[str, Channel]
    routes: tuple[Route, ...]
    people: dict[str, Person] = field(default_factory=dict)
    next_steps: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_NEXT_STEPS))
    app_base_url: str = "http://127.0.0.1:8501"
    lookback_days: int = 7
    digest_weekday: str = "monday"
    timeout_seconds: float = 10.0
    source: str = "defaults"

    def next_step(self, item_type: str) -> str:
        return self.next_steps.get(item_type) or self.next_steps["default"]


def find_config(warehouse: Path, explicit: str | os.PathLike | None = None) -> Path | None:
    """The configuration file to use, or None when none is configured."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"notification config {path} does not exist")
        return path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={path} does not exist")
        return path
    beside = warehouse.parent / CONFIG_NAME
    return beside if beside.is_file() else None


def _secret(table: dict, key: str, where: str, env: dict) -> str | None:
    """`key` literally, or from the environment variable named by `key_env`; a named but unset
    variable is an error (a silently empty password or URL would fail later, less clearly)."""
    env_name = table.get(f"{key}_env")
    if env_name:
        value = env.get(env_name)
        if not value:
            raise ConfigError(f"{where}: {key}_env names {env_name}, which is not set")
        return value
    value = table.get(key)
    return None if value in (None, "") else str(value)


def _strings(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")


def _channel(name: str, table: dict, env: dict) -> Channel:
    where = f"[channels.{name}]"
    kind = table.get("type")
    if kind not in CHANNEL_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(CHANNEL_TYPES)}, got {kind!r}")
    if kind in ("slack", "webhook"):
        url = _secret(table, "url", where, env)
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url (or url_env) must be an http(s) URL")
        headers = {str(k): str(v) for k, v in (table.get("headers") or {}).items()}
        token = _secret(table, "token", where, env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return Channel(name=name, type=kind, url=url, headers=headers)
    host = table.get("host")
    sender = table.get("from")
    if not host or not sender:
        raise ConfigError(f"{where}: an email channel needs host and from")
    return Channel(
        name=name,
        type=kind,
        host=str(host),
        port=int(table.get("port", 465 if table.get("ssl") else 25)),
        sender=str(sender),
        username=table.get("username"),
        password=_secret(table, "password", where, env),
        starttls=bool(table.get("starttls", False)),
        ssl=bool(table.get("ssl", False)),
    )


def _route(index: int, table: dict, channels: dict[str, Channel]) -> Route:
    name = str(table.get("name") or f"route {index + 1}")
    where = f"[[routes]] {name!r}"
    channel = table.get("channel")
    if channel not in channels:
        raise ConfigError(f"{where}: channel {channel!r} is not defined under [channels]")
    kinds = _strings(table.get("kinds"), f"{where} kinds") or KINDS
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ConfigError(f"{where}: unknown kinds {unknown}; use {', '.join(KINDS)}")
    to = _strings(table.get("to", "owner"), f"{where} to")
    if not to:
        raise ConfigError(f"{where}: to must name 'owner' or at least one recipient")

    def number(key: str) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)

    return Route(
        name=name,
        channel=channel,
        kinds=kinds,
        types=_strings(table.get("types"), f"{where} types"),
        severities=_strings(table.get("severities"), f"{where} severities"),
        segments=_strings(table.get("segments"), f"{where} segments"),
        owners=_strings(table.get("owners"), f"{where} owners"),
        min_arr=number("min_arr"),
        max_arr=number("max_arr"),
        to=to,
    )


def parse_config(data: dict, source: str = "notify.toml", env: dict | None = None) -> NotifyConfig:
    """A NotifyConfig from the parsed TOML; raises ConfigError naming the bad key."""
    env = dict(os.environ) if env is None else env
    known = {
        "app_base_url",
        "lookback_days",
        "digest_weekday",
        "timeout_seconds",
        "channels",
        "routes",
        "people",
        "next_steps",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}")
    channels = {name: _channel(name, table, env) for name, table in (data.get("channels") or {}).items()}
    routes = tuple(_route(i, table, channels) for i, table in enumerate(data.get("routes") or []))
    people = {
        str(name): Person(email=table.get("email"), slack=table.get("slack"))
        for name, table in (data.get("people") or {}).items()
    }
    next_steps = dict(DEFAULT_NEXT_STEPS)
    next_steps.update({str(k): str(v) for k, v in (data.get("next_steps") or {}).items()})
    lookback = data.get("lookback_days", 7)
    if not isinstance(lookback, int) or lookback < 1:
        raise ConfigError(f"{source}: lookback_days must be a whole number of days >= 1, got {lookback!r}")
    weekday = str(data.get("digest_weekday", "monday")).lower()
    if weekday not in WEEKDAYS:
        raise ConfigError(f"{source}: digest_weekday must be one of {', '.join(WEEKDAYS)}")
    return NotifyConfig(
        channels=channels,
        routes=routes,
        people=people,
        next_steps=next_steps,
        app_base_url=str(data.get("app_base_url", "http://127.0.0.1:8501")).rstrip("/"),
        lookback_days=lookback,
        digest_weekday=weekday,
        timeout_seconds=float(data.get("timeout_seconds", 10)),
        source=source,
    )


def load_config(path: Path | None, webhook_url: str | None = None) -> NotifyConfig:
    """The configuration from `path` (None: defaults only). `webhook_url` replaces the channels
    and routes with one JSON webhook that receives every alert, signal and digest."""
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    if webhook_url:
        data = {key: value for key, value in data.items() if key not in ("channels", "routes")}
        data["channels"] = {"webhook": {"type": "webhook", "url": webhook_url}}
        data["routes"] = [{"name": "--webhook-url", "channel": "webhook", "to": "owner"}]
    config = parse_config(data, source=str(path) if path else "--webhook-url")
    if not config.routes:
        raise ConfigError(f"{config.source}: no [[routes]]: nothing would be sent")
    return config
