"""The demo company's accounts, their latent health trajectories, and their users.

Every account follows one latent trajectory that drives everything observable later (usage
intensity and breadth, CS relationship, NPS, tickets, churn at renewal), so a health score built
on the warehouse can be checked against `_truth/accounts.csv`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

SEGMENTS = np.array(["smb", "mid_market", "enterprise"])
SEGMENT_SHARE = [0.6, 0.3, 0.1]
# Licensed seats at start, by segment (low, high).
SEAT_RANGE = {0: (3, 15), 1: (15, 60), 2: (60, 250)}

TRAJECTORIES = np.array(
    [
        "thriving",
        "stable",
        "declining",
        "going_quiet",
        "recovering",
        "frustrated",
        "relationship_dependent",
    ]
)
TRAJECTORY_SHARE = [0.18, 0.32, 0.13, 0.12, 0.10, 0.08, 0.07]
THRIVING, STABLE, DECLINING, GOING_QUIET, RECOVERING, FRUSTRATED, REL_DEPENDENT = range(7)
# Days over which a going_quiet account's use fades out before it stops.
QUIET_FADE_DAYS = 45
# Relationship lost when a relationship_dependent account's champion leaves.
CHAMPION_LOSS = 0.5
# Latent usage at which every user of an account takes part; below it only that share of users do.
ENGAGED_USAGE = 0.8

INDUSTRIES = [
    "software",
    "fintech",
    "healthcare",
    "retail",
    "manufacturing",
    "logistics",
    "education",
    "media",
    "insurance",
    "real_estate",
    "energy",
    "hospitality",
]
CSMS = [
    "Alice Moreau",
    "Ben Okafor",
    "Carla Jensen",
    "Dev Patel",
    "Elena Rossi",
    "Felix Wagner",
    "Grace Lin",
    "Hugo Silva",
]
_NAME_A = [
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Clear",
    "Copper",
    "Crest",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Helix",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "North",
    "Oak",
    "Orbit",
    "Pine",
    "Pioneer",
    "Quartz",
    "Redwood",
    "River",
    "Sage",
    "Silver",
    "Summit",
    "Tidal",
    "Union",
    "Vertex",
    "Willow",
    "Zenith",
    "Atlas",
    "Beacon",
    "Cobalt",
]
_NAME_B = [
    "Analytics",
    "Logistics",
    "Health",
    "Labs",
    "Systems",
    "Foods",
    "Energy",
    "Capital",
    "Media",
    "Works",
    "Dynamics",
    "Retail",
    "Robotics",
    "Learning",
    "Partners",
    "Networks",
    "Supply",
    "Motors",
    "Bio",
    "Cloud",
]
_NAME_C = ["Inc", "LLC", "GmbH", "Ltd", "Co", "Group"]
FIRST_NAMES = [
    "ana",
    "ben",
    "chen",
    "dana",
    "eli",
    "fatima",
    "george",
    "hana",
    "ivan",
    "julia",
    "kofi",
    "lena",
    "marco",
    "nina",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sam",
    "tara",
    "umar",
    "vera",
    "will",
    "yuki",
    "zoe",
    "li",
    "max",
    "ida",
    "noah",
    "emma",
]
LAST_NAMES = [
    "smith",
    "garcia",
    "kim",
    "muller",
    "rossi",
    "silva",
    "nguyen",
    "khan",
    "cohen",
    "ivanova",
    "brown",
    "lopez",
    "sato",
    "novak",
    "dubois",
    "berg",
    "costa",
    "ali",
    "meyer",
    "wong",
]


@dataclass
class Accounts:
    """Account-level arrays (index = account number - 1)."""

    n: int
    segment: np.ndarray  # int 0..2
    trajectory: np.ndarray  # int 0..6
    created_day: np.ndarray  # day index relative to window start (negative = before the window)
    created_sec: np.ndarray  # seconds within the creation day
    seats0: np.ndarray
    quiet_day: np.ndarray  # day usage stops for going_quiet accounts, else a large number
    champion_lost_day: np.ndarray  # day a relationship_dependent account loses its champion, else large
    names: list[str]
    domains: list[str]
    industry: list[str]
    csm: list[str]
    # filled by billing: days with no live subscription (churned) per account, list of (from, to)
    dead_spans: list[list[tuple[int, int]]] = field(default_factory=list)


def make_accounts(rng: np.random.Generator, n: int, days: int) -> Accounts:
    """Draw accounts: segment, trajectory, creation time (before or inside the window), names."""
    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    trajectory = rng.choice(len(TRAJECTORIES), size=n, p=TRAJECTORY_SHARE)
    is_new = rng.random(n) < 0.22
    created_day = np.where(
        is_new,
        rng.integers(0, max(1, int(days * 0.8)), size=n),
        -rng.integers(1, 730, size=n),
    )
    # New signups have not had time to decline or go quiet in a believable way at the window start;
    # they keep their trajectory, which then plays out after creation.
    created_sec = rng.integers(8 * 3600, 19 * 3600, size=n)
    lo = np.array([SEAT_RANGE[s][0] for s in segment])
    hi = np.array([SEAT_RANGE[s][1] for s in segment])
    seats0 = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(np.int64)
    start = np.maximum(created_day, 0)
    span = np.maximum(days - start, 2)
    quiet_day = np.where(
        trajectory == GOING_QUIET,
        start + (rng.uniform(0.25, 0.8, size=n) * span).astype(np.int64),
        10**9,
    )
    # Half the relationship_dependent accounts lose their champion at some point: the relationship
    # that held a low-usage account then goes, and the account is exposed at its next renewals.
    champion_lost_day = np.where(
        (trajectory == REL_DEPENDENT) & (rng.random(n) < 0.5),
        start + 30 + (rng.uniform(0.0, 1.0, size=n) * np.maximum(span - 30, 1)).astype(np.int64),
        10**9,
    )
    names, domains, seen = [], [], set()
    for _i in range(n):
        a = _NAME_A[rng.integers(len(_NAME_A))]
        b = _NAME_B[rng.integers(len(_NAME_B))]
        c = _NAME_C[rng.integers(len(_NAME_C))]
        base = f"{a}{b}".lower()
        dom, k = f"{base}.com", 2
        while dom in seen:
            dom, k = f"{base}{k}.com", k + 1
        seen.add(dom)
        suffix = "" if k == 2 else f" {k - 1}"
        names.append(f"{a} {b}{suffix} {c}")
        domains.append(dom)
    industry = [INDUSTRIES[i] for i in rng.integers(len(INDUSTRIES), size=n)]
    csm = [CSMS[i] for i in rng.integers(len(CSMS), size=n)]
    return Accounts(
        n=n,
        segment=segment,
        trajectory=trajectory,
        created_day=created_day.astype(np.int64),
        created_sec=created_sec,
        seats0=seats0,
        quiet_day=quiet_day.astype(np.int64),
        champion_lost_day=champion_lost_day.astype(np.int64),
        names=names,
        domains=domains,
        industry=industry,
        csm=csm,
    )


def trajectory_curves(rng: np.random.Generator, acc: Accounts, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent usage intensity and relationship level per account x day (float32, before churn masking).

    usage ~ 1 is a normally busy account; relationship in [0, 1] drives NPS, sentiment, tickets.
    """
    t = (np.arange(days, dtype=np.float32) / max(days - 1, 1))[None, :]
    tr = acc.trajectory[:, None]
    n = acc.n
    u = np.empty((n, days), dtype=np.float32)
    r = np.empty((n, days), dtype=np.float32)
    pivot = rng.uniform(0.3, 0.6, size=(n, 1)).astype(np.float32)
    level = rng.uniform(0.8, 1.2, size=(n, 1)).astype(np.float32)
    shapes_u = {
        THRIVING: 0.7 + 0.6 * t,
        STABLE: 0.85 + 0 * t,
        DECLINING: np.clip(1.0 - 0.9 * np.clip((t - pivot * 0.5) / 0.7, 0, 1), 0.12, None),
        GOING_QUIET: 0.8 + 0 * t,
        RECOVERING: 0.9 - 0.65 * np.exp(-(((t - pivot) / 0.12) ** 2)),
        FRUSTRATED: 1.1 + 0 * t,
        REL_DEPENDENT: 0.3 + 0 * t,
    }
    shapes_r = {
        THRIVING: 0.75 + 0.15 * t,
        STABLE: 0.65 + 0 * t,
        DECLINING: 0.7 - 0.45 * np.clip((t - pivot * 0.5) / 0.7, 0, 1),
        GOING_QUIET: 0.55 - 0.2 * t,
        RECOVERING: 0.7 - 0.4 * np.exp(-(((t - pivot) / 0.15) ** 2)),
        FRUSTRATED: 0.25 + 0 * t,
        REL_DEPENDENT: 0.85 + 0 * t,
    }
    for k in range(len(TRAJECTORIES)):
        m = acc.trajectory == k
        u[m] = np.broadcast_to(shapes_u[k], (n, days))[m]
        r[m] = np.broadcast_to(shapes_r[k], (n, days))[m]
    # Weekly random wobble so no two accounts are identical lines.
    weeks = days // 7 + 2
    wob = np.exp(np.cumsum(rng.normal(0, 0.06, size=(n, weeks)), axis=1) * 0.5).astype(np.float32)
    wob = np.repeat(wob, 7, axis=1)[:, :days]
    u *= level * wob
    r = np.clip(r + rng.normal(0, 0.05, size=(n, 1)).astype(np.float32), 0.02, 0.98)
    day_idx = np.arange(days)[None, :]
    # Going quiet is not a switch: over the QUIET_FADE_DAYS before the quiet day the account's use
    # fades to 15% and its relationship sours (the champion is leaving), which is the lead time a
    # health score can see before the renewal at which the account cancels.
    to_quiet = (acc.quiet_day[:, None] - day_idx).astype(np.float32)
    fade = np.clip(to_quiet / QUIET_FADE_DAYS, 0.0, 1.0)
    fading = (acc.quiet_day[:, None] < 10**8) & (to_quiet > 0) & (to_quiet <= QUIET_FADE_DAYS)
    u = np.where(fading, u * (0.15 + 0.85 * fade), u)
    r = np.where(acc.quiet_day[:, None] < 10**8, np.clip(r - 0.25 * (1.0 - fade), 0.02, 0.98), r)
    # A lost champion: the relationship falls by CHAMPION_LOSS over the next 30 days.
    since_loss = np.clip((day_idx - acc.champion_lost_day[:, None]) / 30.0, 0.0, 1.0).astype(np.float32)
    r = np.clip(r - CHAMPION_LOSS * since_loss, 0.02, 0.98)
    quiet = day_idx >= acc.quiet_day[:, None]
    u[quiet] = 0.0
    u[day_idx < acc.created_day[:, None]] = 0.0
    del tr
    return u, r


def adoption_curve(rng: np.random.Generator, acc: Accounts, days: int) -> np.ndarray:
    """Adoption breadth per account x day in [0, 1]; key feature k is used when breadth >= its threshold."""
    t = (np.arange(days, dtype=np.float32) / max(days - 1, 1))[None, :]
    base = rng.uniform(0.25, 0.7, size=(acc.n, 1)).astype(np.float32)
    slope = np.select(
        [
            acc.trajectory == THRIVING,
            acc.trajectory == DECLINING,
            acc.trajectory == FRUSTRATED,
            acc.trajectory == REL_DEPENDENT,
        ],
        [0.45, -0.45, 0.3, -0.15],
        0.0,
    ).astype(np.float32)[:, None]
    a = np.clip(base + slope * t, 0.05, 1.0)
    # New accounts ramp up over their first ~60 days.
    since = np.arange(days)[None, :] - acc.created_day[:, None]
    ramp = np.clip(since / 60.0, 0.2, 1.0).astype(np.float32)
    return (a * ramp).astype(np.float32)


@dataclass
class Users:
    """User-level arrays (index = user number - 1); ghosts (unknown_account senders) come last."""

    n: int
    acc0: np.ndarray  # account before a move
    acc1: np.ndarray  # account after a move (= acc0 when the user never moves)
    move_day: np.ndarray  # day of the move (large = never)
    start_day: np.ndarray  # membership start (day index, may be negative)
    end_day: np.ndarray  # membership end, exclusive (large = current)
    propensity: np.ndarray  # daily activity propensity
    lam: np.ndarray  # extra events per active day
    id_class: np.ndarray  # 0 membership, 1 group call only, 2 email domain only
    role: np.ndarray  # 0 admin, 1 member, 2 viewer
    emails0: list[str]
    emails1: list[str]
    has_anon: np.ndarray  # signs up inside the window after anonymous browsing
    # In [0, 1): a user takes part on a day only while the account's usage (relative to
    # ENGAGED_USAGE) exceeds it, so a fading account loses users, not only events per user.
    engagement: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


ROLES = np.array(["admin", "member", "viewer"])


def make_users(
    rng: np.random.Generator,
    acc: Accounts,
    days: int,
    seats_start: np.ndarray | None = None,
    seat_changes: list[list[tuple[int, int]]] | None = None,
) -> Users:
    """Users per account (~55-95% of seats), with joins, departures, moves and identity classes.

    `seats_start` are the licensed seats when the window (or the account) starts and
    `seat_changes[a]` the account's later (day, seat delta) changes from billing: users join when
    seats are bought and leave before seats are cut, so users per seat stays about the same.
    """
    if seats_start is None:
        seats_start = acc.seats0
    if seat_changes is None:
        seat_changes = [[] for _ in range(acc.n)]
    fill = rng.uniform(0.55, 0.95, size=acc.n)
    counts0 = np.maximum(1, np.round(seats_start * fill)).astype(np.int64)
    joins = [
        [(day, int(round(delta * fill[a]))) for day, delta in seat_changes[a] if delta > 0]
        for a in range(acc.n)
    ]
    counts = counts0 + np.array([sum(k for _, k in j) for j in joins], dtype=np.int64)
    acc0 = np.repeat(np.arange(acc.n), counts)
    n = int(acc0.size)
    block = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    first = np.zeros(n, dtype=bool)
    first[block] = True
    created = acc.created_day[acc0]
    # Founders join at creation; others join between creation and the window end (most before).
    later = created + (rng.beta(1.2, 3.0, size=n) * (days + 200 - created)).astype(np.int64)
    start_day = np.where(first, created, np.minimum(later, days - 1))
    leaves = (rng.random(n) < 0.07) & ~first
    end_day = np.where(
        leaves,
        start_day + rng.integers(30, 400, size=n),
        10**9,
    )
    end_day = np.where(end_day <= 0, 10**9, end_day)  # departures before the window would be invisible
    added = np.zeros(n, dtype=bool)
    for a in range(acc.n):
        # Users hired for seats bought at a renewal join within a few weeks of it ...
        pos = int(block[a] + counts0[a])
        for day, k in joins[a]:
            start_day[pos : pos + k] = np.minimum(day + rng.integers(0, 21, size=k), days - 1)
            end_day[pos : pos + k] = 10**9
            added[pos : pos + k] = True
            pos += k
        # ... and seats cut at a renewal were freed by users who left in the weeks before it.
        for day, delta in seat_changes[a]:
            if delta >= 0:
                continue
            idx = np.arange(block[a], block[a] + counts[a])
            current = idx[~first[idx] & (start_day[idx] < day) & (end_day[idx] > day)]
            k = min(int(round(-delta * fill[a])), current.size)
            if k:
                gone = rng.choice(current, size=k, replace=False)
                end_day[gone] = np.maximum(start_day[gone] + 1, day - rng.integers(0, 21, size=k))
    id_class = np.zeros(n, dtype=np.int64)
    draw = rng.random(n)
    id_class[(draw < 0.03) & ~first] = 1
    id_class[(draw >= 0.03) & (draw < 0.06) & ~first] = 2
    movers = (rng.random(n) < 0.02) & ~first & ~added & (id_class == 0) & (end_day > days)
    acc1 = acc0.copy()
    acc1[movers] = rng.integers(0, acc.n, size=int(movers.sum()))
    movers &= acc1 != acc0
    move_lo = np.maximum(start_day, 0) + 14
    move_day = np.where(movers & (move_lo < days - 14), rng.integers(0, days, size=n), 10**9)
    move_day = np.where(move_day < 10**9, np.maximum(move_day, move_lo), move_day)
    move_day = np.where(move_day >= days, 10**9, move_day)
    acc1 = np.where(move_day < 10**9, acc1, acc0)
    # Power users and occasional users: propensity is heavy-tailed.
    propensity = rng.beta(1.6, 2.4, size=n).astype(np.float32)
    lam = rng.gamma(2.0, 2.5, size=n).astype(np.float32)
    role = np.where(first, 0, rng.choice(3, size=n, p=[0.1, 0.7, 0.2]))
    fn = rng.integers(len(FIRST_NAMES), size=n)
    ln = rng.integers(len(LAST_NAMES), size=n)
    emails0, emails1 = [], []
    for i in range(n):
        local = f"{FIRST_NAMES[fn[i]]}.{LAST_NAMES[ln[i]]}{i + 1}"
        e0 = f"{local}@{acc.domains[acc0[i]]}" if id_class[i] != 1 else f"{local}@gmail.com"
        emails0.append(e0)
        emails1.append(f"{local}@{acc.domains[acc1[i]]}" if acc1[i] != acc0[i] else e0)
    has_anon = (start_day >= 0) & (start_day < days) & (rng.random(n) < 0.6)
    # Founders are the last to disengage: an account with any usage left has its founder in it.
    engagement = np.where(first, 0.0, rng.random(n)).astype(np.float32)
    return Users(
        n=n,
        acc0=acc0,
        acc1=acc1,
        move_day=move_day.astype(np.int64),
        start_day=start_day.astype(np.int64),
        end_day=end_day.astype(np.int64),
        propensity=propensity,
        lam=lam,
        id_class=id_class,
        role=role,
        emails0=emails0,
        emails1=emails1,
        has_anon=has_anon,
        engagement=engagement,
    )


def day_date(window_start: dt.date, day: int) -> dt.date:
    return window_start + dt.timedelta(days=int(day))
