"""Product events (Segment Spec track / identify / group / page) for the demo company.

The volume is drawn per day with numpy over all users at once (who is active, how many events,
which events, when), then turned into strings with Arrow kernels and byte matrices: there is no
Python loop per event. Rare, structural messages (identify, group, onboarding milestones,
anonymous pre-signup browsing) are drawn up front per user / account and merged in by day.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import multiprocessing as mp
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.demo._strings import MS_PER_DAY, iso_timestamps, uuid_strings
from pipelines.demo.company import ENGAGED_USAGE, FRUSTRATED, STABLE, THRIVING, Accounts, Users

# Key features in the order of seeds/key_features.csv (docs/ARCHITECTURE.md).
KEY_EVENTS = [
    "report.created",
    "dashboard.viewed",
    "integration.connected",
    "workflow.automated",
    "alert.configured",
    "export.completed",
]
KEY_POPULARITY = np.array([0.28, 0.34, 0.07, 0.11, 0.08, 0.12])
# Breadth threshold rank: dashboards and reports are adopted first, automations last.
KEY_ADOPTION_ORDER = np.array([1, 0, 3, 5, 4, 2])
GENERIC_EVENTS = [
    "Signed Out",
    "search.performed",
    "report.viewed",
    "report.shared",
    "dashboard.created",
    "dashboard.shared",
    "comment.added",
    "file.uploaded",
    "data_source.synced",
    "filter.applied",
    "notification.clicked",
    "settings.updated",
    "profile.updated",
    "help_center.viewed",
    "Invite Sent",
    "Account Added User",
    "workflow.run",
    "api_key.created",
    "template.used",
    "table.sorted",
]
GENERIC_WEIGHTS = np.array(
    [4, 10, 16, 3, 3, 2, 5, 3, 4, 9, 4, 1.5, 1, 2, 1, 0.6, 5, 0.3, 1.5, 6], dtype=float
)
SPECIAL_EVENTS = [
    "Signed In",
    "feature_gate.hit",
    "quota.threshold_reached",
    "onboarding.milestone_completed",
    "Signed Up",
    "Account Created",
]
EVENT_NAMES = KEY_EVENTS + GENERIC_EVENTS + SPECIAL_EVENTS
EV = {name: i for i, name in enumerate(EVENT_NAMES)}
GATED_FEATURES = ["sso", "advanced_permissions", "api_access", "audit_log", "sandbox"]
QUOTAS = ["api_calls", "storage", "seats"]
MILESTONES = [
    "workspace_created",
    "first_data_source",
    "first_report",
    "invited_teammate",
    "first_dashboard_shared",
]
PAGES = [
    ("Home", "/"),
    ("Reports", "/reports"),
    ("Dashboards", "/dashboards"),
    ("Integrations", "/integrations"),
    ("Workflows", "/workflows"),
    ("Settings", "/settings"),
    ("Billing", "/settings/billing"),
    ("Docs", "/docs"),
    ("Pricing", "/pricing"),
    ("Sign Up", "/signup"),
]
_KEY_PROPS = {
    "report.created": ("report_type", ["table", "chart", "pivot"]),
    "dashboard.viewed": ("dashboard_type", ["team", "personal", "shared"]),
    "integration.connected": ("integration", ["salesforce", "hubspot", "snowflake", "slack", "bigquery"]),
    "workflow.automated": ("trigger", ["schedule", "event", "webhook"]),
    "alert.configured": ("channel", ["email", "slack", "pagerduty"]),
    "export.completed": ("format", ["csv", "xlsx", "pdf"]),
    "search.performed": ("scope", ["reports", "dashboards", "all"]),
    "filter.applied": ("field", ["date", "owner", "region", "status"]),
}
TYPES = pa.array(["track", "identify", "group", "page"])
TRACK, IDENTIFY, GROUP, PAGE = range(4)
OFFSETS = np.array([120, -300, 330, 60, -420, 540])
BAD_TIMESTAMPS = pa.array(["not-a-date", "2024-13-45T99:00:00Z"])
_BELOW_ONE = 1.0 - 1e-9  # keeps every account's normalised weights below the next account's row
FIRST_REGULAR_MS = 300_000  # identify/group/pre-signup messages of a day come in the first 5 minutes


def _json(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"))


@dataclass
class Vocab:
    """String lookup tables that per-event integer codes index into."""

    props: list[str] = field(default_factory=lambda: ["{}"])
    start: dict[int, int] = field(default_factory=dict)  # event code -> first template index
    count: dict[int, int] = field(default_factory=dict)

    def add(self, code: int, templates: list[str]) -> None:
        self.start[code] = len(self.props)
        self.count[code] = len(templates)
        self.props.extend(templates)


def build_vocab() -> Vocab:
    vocab = Vocab()
    for name in KEY_EVENTS + GENERIC_EVENTS:
        if name in _KEY_PROPS:
            key, values = _KEY_PROPS[name]
            vocab.add(EV[name], [_json({key: v}) for v in values])
        else:
            vocab.add(EV[name], ["{}"])
    vocab.add(EV["Signed In"], [_json({"method": m}) for m in ("password", "sso", "google")])
    vocab.add(EV["feature_gate.hit"], [_json({"feature": f}) for f in GATED_FEATURES])
    vocab.add(
        EV["quota.threshold_reached"],
        [_json({"quota": q, "threshold_pct": p}) for q in QUOTAS for p in (80, 100)],
    )
    vocab.add(EV["onboarding.milestone_completed"], [_json({"milestone": m}) for m in MILESTONES])
    vocab.add(EV["Signed Up"], [_json({"method": "email"})])
    vocab.add(EV["Account Created"], ["{}"])
    vocab.add(-1, [_json({"name": name, "path": path}) for name, path in PAGES])  # pages
    return vocab


@dataclass
class Specials:
    """Structural messages drawn up front, as parallel arrays sorted by day."""

    day: np.ndarray
    cols: dict[str, np.ndarray]


def make_specials(
    rng: np.random.Generator,
    acc: Accounts,
    users: Users,
    alive: np.ndarray,
    vocab: Vocab,
    days: int,
) -> Specials:
    """identify / group calls, anonymous pre-signup browsing, sign-ups and onboarding milestones."""
    names = ("day", "ms", "typ", "user", "anon", "ev", "ctx", "gid", "props", "traits")
    rows: list[tuple[int, ...]] = []

    def add(day, ms, typ, user=-1, anon=-1, ev=-1, ctx=-1, gid=-1, props=-1, traits=-1):
        rows.append((day, ms, typ, user, anon, ev, ctx, gid, props, traits))

    n_users = users.n
    page_base = vocab.start[-1]
    for u in range(n_users):
        s0 = max(int(users.start_day[u]), 0)
        if s0 >= days or s0 >= users.end_day[u]:
            continue
        # Users who joined before the window re-identify some time in its first month, so day one
        # is not a wall of identify calls; group-call-only users and movers keep day one, so their
        # group call / first email precede everything they do in the window.
        if users.start_day[u] < 0 and users.id_class[u] != 1 and users.move_day[u] >= days:
            s0 = min(int(rng.integers(0, min(30, days))), int(users.end_day[u]) - 1)
        a = int(users.acc0[u])
        ident_ms = int(rng.integers(60_000, 200_000))
        if users.has_anon[u]:
            # Browsing before signing up: anonymous only, no userId, no groupId yet.
            for j in range(int(rng.integers(1, 5))):
                add(s0, 1_000 + j * 10_000, PAGE, anon=u, props=page_base + [8, 9, 0, 7][j % 4])
            add(s0, ident_ms, IDENTIFY, user=u, anon=u, traits=u)
            if alive[a, s0]:
                add(
                    s0,
                    ident_ms + 1_000,
                    TRACK,
                    user=u,
                    ev=EV["Signed Up"],
                    ctx=a,
                    props=vocab.start[EV["Signed Up"]],
                )
        else:
            add(s0, ident_ms, IDENTIFY, user=u, traits=u)
        if users.id_class[u] == 1 or (users.id_class[u] == 0 and rng.random() < 0.4):
            add(s0, ident_ms + 30_000, GROUP, user=u, gid=a, traits=2 * n_users + a)
        if users.move_day[u] < days:
            m = int(users.move_day[u])
            add(m, ident_ms, IDENTIFY, user=u, traits=n_users + u)
            if rng.random() < 0.5:
                add(
                    m,
                    ident_ms + 30_000,
                    GROUP,
                    user=u,
                    gid=int(users.acc1[u]),
                    traits=2 * n_users + int(users.acc1[u]),
                )
    founders = np.concatenate([[0], np.nonzero(np.diff(users.acc0))[0] + 1])
    complete_p = {THRIVING: 0.95, STABLE: 0.85, FRUSTRATED: 0.9}
    for u in founders:
        a = int(users.acc0[u])
        c = int(acc.created_day[a])
        if c < 0 or c >= days:
            continue
        add(
            c,
            250_000,
            TRACK,
            user=int(u),
            ev=EV["Account Created"],
            ctx=a,
            props=vocab.start[EV["Account Created"]],
        )
        p = complete_p.get(int(acc.trajectory[a]), 0.6)
        day = c
        for k in range(len(MILESTONES)):
            if k > 0 and rng.random() > p:
                break
            day += 0 if k == 0 else int(rng.integers(1, 10))
            if day >= days or not alive[a, day]:
                break
            add(
                day,
                int(rng.integers(FIRST_REGULAR_MS, MS_PER_DAY)),
                TRACK,
                user=int(u),
                ev=EV["onboarding.milestone_completed"],
                ctx=a,
                props=vocab.start[EV["onboarding.milestone_completed"]] + k,
            )
    matrix = np.array(rows, dtype=np.int64).reshape(-1, len(names))
    arrays = {k: matrix[:, i] for i, k in enumerate(names)}
    order = np.lexsort((arrays["ms"], arrays["day"]))
    arrays = {k: v[order] for k, v in arrays.items()}
    return Specials(day=arrays.pop("day"), cols=arrays)


@dataclass
class EventWriter:
    """Draws each day's messages and writes product/events/YYYY-MM-DD.{jsonl.gz,parquet}."""

    rng: np.random.Generator
    acc: Accounts
    users: Users
    usage: np.ndarray  # account x day intensity, zero when not alive
    breadth: np.ndarray  # account x day adoption breadth
    specials: Specials
    vocab: Vocab
    window_start: dt.date
    days: int
    out_dir: Path
    fmt: str
    bad_records: bool
    volume: float = 1.0
    counts: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)
    # Compression and file writes release the GIL: they run on a worker while the next day is drawn.
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    _futures: list[Future] = field(default_factory=list)

    def __post_init__(self) -> None:
        n_acc, n_users = self.acc.n, self.users.n
        self.n_ghost_users, self.n_ghost_accs = 25, 5
        ghost_acc_base = 90_001 if n_acc < 90_000 else n_acc + 1
        acc_ids = [f"acc_{a + 1:05d}" for a in range(n_acc)]
        acc_ids += [f"acc_{ghost_acc_base + j:05d}" for j in range(self.n_ghost_accs)]
        self.acc_ids = pa.array(acc_ids)
        self.user_ids = pa.array([f"usr_{u + 1:06d}" for u in range(n_users + self.n_ghost_users)])
        self.anon_ids = uuid_strings(np.random.default_rng(self.rng.integers(2**63)), n_users)
        # Draws that only the jsonl form makes (malformed lines) use their own stream, so the jsonl
        # and parquet forms of one seed carry exactly the same messages.
        self.jsonl_rng = np.random.default_rng(self.rng.integers(2**63))
        # Emails are [a-z0-9.@-] only, so a format string is valid JSON (and far faster than dumps).
        traits = [f'{{"email":"{e}"}}' for e in self.users.emails0]
        traits += [f'{{"email":"{e}"}}' for e in self.users.emails1]
        traits += [
            _json({"name": nm, "industry": ind})
            for nm, ind in zip(self.acc.names, self.acc.industry, strict=True)
        ]
        self.traits = pa.array(traits)
        self.props = pa.array(self.vocab.props)
        self.names = pa.array(EVENT_NAMES)
        thr = np.sort(self.rng.uniform(0.0, 0.85, size=(n_acc, 6)), axis=1)
        thr[:, 0] = 0.0  # everyone uses their most basic key feature
        self.thresholds = thr[:, KEY_ADOPTION_ORDER].astype(np.float32)
        # Each day draws from its own stream (seeded by this entropy and the day number), so days can
        # be drawn in any order and in parallel processes and still give the same bytes.
        self.day_entropy = int(self.rng.integers(2**63))
        tr = self.acc.trajectory
        self.gate_p = np.select(
            [tr == THRIVING, tr == FRUSTRATED, tr == STABLE], [0.012, 0.01, 0.004], 0.0015
        )
        self.quota_p = np.select([tr == THRIVING, tr == FRUSTRATED], [0.0015, 0.0012], 0.0002)
        self.gen_cum = np.cumsum(GENERIC_WEIGHTS) / GENERIC_WEIGHTS.sum()
        self.tmpl_start = np.array([self.vocab.start[i] for i in range(len(EVENT_NAMES))])
        self.tmpl_count = np.array([self.vocab.count[i] for i in range(len(EVENT_NAMES))])
        self.pending: dict[int, list[pa.Table]] = {}
        self.ws_ms = int(dt.datetime.combine(self.window_start, dt.time(), tzinfo=dt.UTC).timestamp()) * 1000
        sp_day = self.specials.day
        self.sp_bounds = np.searchsorted(sp_day, np.arange(self.days + 1))
        for k in ("messages", "lines", "track", "identify", "group", "page", "files"):
            self.counts[k] = 0
        for k in ("duplicate_message_id", "unparseable_timestamp", "unknown_account", "malformed_json"):
            self.bad[k] = 0
        (self.out_dir / "product" / "events").mkdir(parents=True, exist_ok=True)

    # -- drawing -------------------------------------------------------------------------------
    def day_rng(self, d: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.day_entropy, d]))

    def _regular(self, d: int, rng: np.random.Generator, bad: dict[str, int]) -> dict[str, np.ndarray]:
        users = self.users
        acc_of = np.where(d >= users.move_day, users.acc1, users.acc0)
        member = (users.start_day <= d) & (d < users.end_day)
        inten = self.usage[acc_of, d] * member
        # A fading account loses users: only the share of its users that its usage supports take part.
        inten = inten * (users.engagement < np.clip(inten / ENGAGED_USAGE, 0.0, 1.0))
        weekday = (self.window_start + dt.timedelta(days=d)).weekday()
        wk = 0.22 if weekday >= 5 else 1.0
        p = np.clip(users.propensity * inten * wk * 0.85 * min(self.volume, 1.0), 0, 0.97)
        active = np.nonzero(rng.random(users.n) < p)[0]
        lam = 0.6 * users.lam[active] * np.minimum(inten[active], 1.6) * max(self.volume, 1.0)
        n_per = 1 + rng.poisson(lam)
        n = int(n_per.sum())
        user = np.repeat(active, n_per)
        acc = acc_of[user]
        first = np.zeros(n, dtype=bool)
        starts = np.concatenate([[0], np.cumsum(n_per)[:-1]]).astype(np.int64)
        first[starts] = True
        # Session start mostly in working hours; events follow with exponential gaps.
        hour = np.clip(rng.normal(13.0, 3.2, size=active.size), 0.1, 23.5)
        t0 = np.repeat((hour * 3_600_000).astype(np.int64), n_per)
        gaps = rng.exponential(70_000, size=n).astype(np.int64)
        cs = np.cumsum(gaps)
        cs -= np.repeat(cs[starts], n_per)
        ms = np.clip(t0 + cs, FIRST_REGULAR_MS, MS_PER_DAY - 1)
        # Which message: page, key feature, gate hit, quota, or a generic track event.
        r = rng.random(n)
        typ = np.where(r < 0.18, PAGE, TRACK)
        ev = np.full(n, -1, dtype=np.int64)
        # Key feature: a weighted pick among the features the account has adopted by day d. The
        # per-account cumulative weights (normalised, offset by the account's row) form one sorted
        # array, so one searchsorted picks for every event without an events x features matrix.
        breadth_d = self.breadth[:, d]
        adopted = breadth_d[:, None] >= self.thresholds
        cum = np.cumsum(adopted * KEY_POPULARITY[None, :], axis=1)
        tot = cum[:, -1]
        n_keys = len(KEY_EVENTS)
        flat = (
            np.arange(self.acc.n)[:, None] + cum / np.where(tot > 0, tot, 1.0)[:, None] * _BELOW_ONE
        ).ravel()
        pick = np.searchsorted(flat, acc + rng.random(n) * _BELOW_ONE, side="right") - acc * n_keys
        pick = np.minimum(pick, n_keys - 1)  # float rounding at the very top of a row
        is_key = (r >= 0.18) & (r < 0.18 + 0.4 * np.minimum(1.0, 0.4 + breadth_d[acc])) & (tot[acc] > 0)
        ev[is_key] = pick[is_key]
        gen = np.searchsorted(self.gen_cum, rng.random(n), side="right")
        gen = np.minimum(gen, len(GENERIC_EVENTS) - 1) + len(KEY_EVENTS)
        is_gen = (typ == TRACK) & ~is_key
        ev[is_gen] = gen[is_gen]
        r2 = rng.random(n)
        gate = is_gen & (r2 < self.gate_p[acc])
        ev[gate] = EV["feature_gate.hit"]
        quota = is_gen & ~gate & (r2 > 1 - self.quota_p[acc])
        ev[quota] = EV["quota.threshold_reached"]
        signin = first & (typ == TRACK) & (rng.random(n) < 0.6)
        ev[signin] = EV["Signed In"]
        tmpl = np.where(
            typ == PAGE,
            self.vocab.start[-1] + rng.integers(0, 8, size=n),
            self.tmpl_start[np.maximum(ev, 0)]
            + (rng.random(n) * self.tmpl_count[np.maximum(ev, 0)]).astype(np.int64),
        )
        # context.groupId: most track events carry it; users known only by group call/email never do.
        has_ctx = (rng.random(n) < np.where(typ == TRACK, 0.88, 0.5)) & (users.id_class[user] == 0)
        ctx = np.where(has_ctx, acc, -1)
        cols = {
            "ms": ms,
            "typ": typ,
            "user": user,
            "anon": np.full(n, -1),
            "ev": ev,
            "ctx": ctx,
            "gid": np.full(n, -1),
            "props": tmpl,
            "traits": np.full(n, -1),
        }
        if self.bad_records:
            k = max(int(rng.poisson(n * 0.0003)), int(d == self.days // 2))  # at least one per drop
            if k:
                g = {
                    "ms": rng.integers(FIRST_REGULAR_MS, MS_PER_DAY, size=k),
                    "typ": np.full(k, TRACK),
                    "user": users.n + rng.integers(0, self.n_ghost_users, size=k),
                    "anon": np.full(k, -1),
                    "ev": np.full(k, EV["report.viewed"]),
                    "ctx": self.acc.n + rng.integers(0, self.n_ghost_accs, size=k),
                    "gid": np.full(k, -1),
                    "props": np.full(k, 0),
                    "traits": np.full(k, -1),
                }
                cols = {c: np.concatenate([cols[c], g[c]]) for c in cols}
                bad["unknown_account"] += k
        return cols

    def _take(self, table: pa.Array, idx: np.ndarray) -> pa.Array:
        return table.take(pa.array(np.maximum(idx, 0), mask=idx < 0))

    def _table(
        self, d: int, cols: dict[str, np.ndarray], rng: np.random.Generator, bad_counts: dict[str, int]
    ) -> pa.Table:
        n = cols["ms"].size
        epoch = self.ws_ms + d * MS_PER_DAY + cols["ms"]
        local = (rng.random(n) < 0.04) & (cols["typ"] != IDENTIFY)
        offset = np.where(local, OFFSETS[rng.integers(0, len(OFFSETS), size=n)], 0)
        delay = rng.exponential(600, size=n).astype(np.int64) + 40
        late = rng.random(n) < 0.005
        delay[late] += rng.integers(60_000, 6 * 3_600_000, size=int(late.sum()))
        ts = iso_timestamps(epoch, offset)
        if self.bad_records:
            bad = rng.random(n) < 0.0002
            if d == self.days // 2 and n:
                bad[n // 2] = True  # at least one per drop
            k = int(bad.sum())
            if k:
                which = np.zeros(n, dtype=np.int64)
                which[bad] = rng.integers(0, 2, size=k)
                ts = pc.if_else(pa.array(bad), BAD_TIMESTAMPS.take(pa.array(which)), ts)
                bad_counts["unparseable_timestamp"] += k
        return pa.table(
            {
                "message_id": uuid_strings(rng, n),
                "type": TYPES.take(pa.array(cols["typ"])),
                "user_id": self._take(self.user_ids, cols["user"]),
                "anonymous_id": self._take(self.anon_ids, cols["anon"]),
                "event": self._take(self.names, cols["ev"]),
                "timestamp": ts,
                "received_at": iso_timestamps(epoch + delay),
                "context_group_id": self._take(self.acc_ids, cols["ctx"]),
                "group_id": self._take(self.acc_ids, cols["gid"]),
                "properties": self._take(self.props, cols["props"]),
                "traits": self._take(self.traits, cols["traits"]),
            }
        )

    def draw(self, d: int) -> tuple[pa.Table, dict[str, int], list[tuple[int, pa.Table]]]:
        """Day d's messages, the counts they add, and the (day, rows) re-delivered on later days.

        A pure function of d and the writer's up-front state: safe to run in a worker process.
        """
        rng = self.day_rng(d)
        counts = {"unknown_account": 0, "unparseable_timestamp": 0, "duplicate_message_id": 0}
        cols = self._regular(d, rng, counts)
        lo, hi = self.sp_bounds[d], self.sp_bounds[d + 1]
        if hi > lo:
            cols = {c: np.concatenate([self.specials.cols[c][lo:hi], cols[c]]) for c in cols}
        order = np.argsort(cols["ms"], kind="stable")
        cols = {c: v[order] for c, v in cols.items()}
        table = self._table(d, cols, rng, counts)
        n = table.num_rows
        typ_counts = np.bincount(cols["typ"], minlength=4)
        for i, name in enumerate(("track", "identify", "group", "page")):
            counts[name] = int(typ_counts[i])
        later: list[tuple[int, pa.Table]] = []
        if self.bad_records and n:
            k = min(max(int(rng.poisson(n * 0.002)), int(d == self.days // 2)), n)
            if k and d + 1 < self.days:
                idx = np.sort(rng.choice(n, size=k, replace=False))
                lag = rng.integers(1, 3, size=k)
                for la in np.unique(lag):
                    target = d + int(la)
                    if target < self.days:
                        sel = idx[lag == la]
                        later.append((target, table.take(pa.array(sel))))
                        counts["duplicate_message_id"] += int(sel.size)
        return table, counts, later

    def day(self, d: int) -> None:
        """Draw and write day d in this process (days must be written in order)."""
        self.add(d, *self.draw(d))

    def add(self, d: int, table: pa.Table, counts: dict[str, int], later: list[tuple[int, pa.Table]]) -> None:
        """Account for day d's draw and write its file with the re-deliveries due on it."""
        self.counts["messages"] += table.num_rows
        for name in ("track", "identify", "group", "page"):
            self.counts[name] += counts[name]
        for name in ("unknown_account", "unparseable_timestamp", "duplicate_message_id"):
            self.bad[name] += counts[name]
        for target, rows in later:
            self.pending.setdefault(target, []).append(rows)
        parts = [table, *self.pending.pop(d, [])]
        full = pa.concat_tables(parts) if len(parts) > 1 else table
        self._write(d, full)

    def run(self, workers: int = 1, progress=None) -> None:
        """Draw and write every day; with workers > 1 days are drawn in forked processes, in order.

        The bytes written do not depend on `workers`: each day draws from its own stream.
        """
        if workers <= 1 or self.days < 2 * workers:
            for d in range(self.days):
                self.day(d)
                if progress:
                    progress(1)
            return
        global _WORKER_WRITER
        _WORKER_WRITER = self
        # fork: workers inherit the drawn company (no pickling); started before any writer thread.
        with mp.get_context("fork").Pool(workers) as pool:
            window: deque = deque()
            next_day = 0
            for d in range(self.days):
                while next_day < self.days and len(window) < 2 * workers:
                    window.append(pool.apply_async(_draw_in_worker, (next_day,)))
                    next_day += 1
                self.add(d, *window.popleft().get())
                if progress:
                    progress(1)
        _WORKER_WRITER = None

    # -- writing -------------------------------------------------------------------------------
    def _write(self, d: int, table: pa.Table) -> None:
        name = (self.window_start + dt.timedelta(days=d)).isoformat()
        base = self.out_dir / "product" / "events" / name
        self.counts["files"] += 1
        self.counts["lines"] += table.num_rows
        if self.fmt == "parquet":
            self._submit(_write_parquet, table, f"{base}.parquet")
            return
        lines = _jsonl_lines(table)
        if self.bad_records and table.num_rows:
            k = max(int(self.jsonl_rng.poisson(table.num_rows * 0.0002)), int(d == self.days // 2))
            if k:
                size = min(k, table.num_rows)
                idx = pa.array(np.sort(self.jsonl_rng.choice(table.num_rows, size=size, replace=False)))
                broken = pc.utf8_slice_codeunits(lines.take(idx), 0, 60)
                lines = pa.concat_arrays([lines, pc.binary_join_element_wise(broken, "\n", "")])
                self.bad["malformed_json"] += len(idx)
                self.counts["lines"] += len(idx)
        self._submit(_write_gzip, lines, f"{base}.jsonl.gz")

    def _submit(self, fn, *args) -> None:
        self._futures.append(self._pool.submit(fn, *args))
        while len(self._futures) > 2:  # bound memory: at most two days waiting to be written
            self._futures.pop(0).result()

    def close(self) -> None:
        """Wait for every pending write; re-raises a failed write."""
        for fut in self._futures:
            fut.result()
        self._futures.clear()
        self._pool.shutdown()


_WORKER_WRITER: EventWriter | None = None


def _draw_in_worker(d: int):
    assert _WORKER_WRITER is not None
    return _WORKER_WRITER.draw(d)


# Low-cardinality columns get dictionary encoding; ids and timestamps are near-unique, so trying
# a dictionary on them only costs time.
_DICT_COLUMNS = ["type", "user_id", "event", "context_group_id", "group_id", "properties", "traits"]


def _write_parquet(table: pa.Table, path: str) -> None:
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=1,
        use_dictionary=_DICT_COLUMNS,
        write_statistics=False,
    )


def _write_gzip(lines: pa.Array, path: str) -> None:
    """The line array's data buffer is the file content; gzip with mtime 0 keeps bytes reproducible."""
    data = lines.buffers()[2]
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    payload = data.to_pybytes()[offsets[0] : offsets[-1]] if len(lines) else b""
    Path(path).write_bytes(gzip.compress(payload, compresslevel=6, mtime=0))


def _opt(prefix: str, col: pa.Array, suffix: str) -> pa.Array:
    return pc.fill_null(pc.binary_join_element_wise(prefix, col, suffix, ""), "")


def _jsonl_lines(t: pa.Table) -> pa.Array:
    """One Segment message per line with a fixed key order; absent fields are left out, not null."""
    c = {name: t.column(name).combine_chunks() for name in t.column_names}
    joined = pc.binary_join_element_wise(
        '{"messageId":"',
        c["message_id"],
        '","type":"',
        c["type"],
        '"',
        _opt(',"userId":"', c["user_id"], '"'),
        _opt(',"anonymousId":"', c["anonymous_id"], '"'),
        _opt(',"event":"', c["event"], '"'),
        _opt(',"groupId":"', c["group_id"], '"'),
        ',"timestamp":"',
        c["timestamp"],
        '","receivedAt":"',
        c["received_at"],
        '"',
        _opt(',"context":{"groupId":"', c["context_group_id"], '"}'),
        _opt(',"properties":', c["properties"], ""),
        _opt(',"traits":', c["traits"], ""),
        "}\n",
        "",
    )
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    return joined
