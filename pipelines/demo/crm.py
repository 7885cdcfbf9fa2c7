"""CRM / CS data for the demo company: accounts, memberships, CS activities, NPS, tickets, overrides.

All driven by the account's latent relationship level (and usage), so the relationship side of a
health score has something real to find.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipelines.demo.billing import _pick
from pipelines.demo.company import ROLES, SEGMENTS, Accounts, Users

HEADERS = {
    "accounts": [
        "account_id",
        "name",
        "domain",
        "segment",
        "industry",
        "csm_owner",
        "stripe_customer_id",
        "created_at",
    ],
    "account_memberships": ["user_id", "account_id", "role", "valid_from", "valid_to"],
    "cs_activities": [
        "activity_id",
        "account_id",
        "occurred_at",
        "activity_type",
        "is_automated",
        "sentiment",
        "author",
    ],
    "nps_responses": ["response_id", "account_id", "respondent_email", "score", "submitted_at"],
    "support_tickets": ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "status"],
    "health_overrides": [
        "override_id",
        "account_id",
        "override_quadrant",
        "override_score",
        "note",
        "author",
        "created_at",
        "expires_at",
    ],
}
QUADRANTS = ["Champions", "Frustrated Power Users", "Relationship-Dependent", "Churn Risk"]
UNKNOWN_CRM_ACCOUNT = "acc_99999"
_KIND_CUM = np.cumsum([0.35, 0.25, 0.25, 0.15])
_PRIORITY_CUM = np.cumsum([0.3, 0.45, 0.2, 0.05])


def iso(ws: dt.datetime, day: int, sec: int) -> str:
    """CRM timestamps: ISO 8601 with an explicit +00:00 offset, second precision."""
    return (ws + dt.timedelta(days=int(day), seconds=int(sec))).isoformat()


def acc_id(a: int) -> str:
    return f"acc_{a + 1:05d}"


def accounts_rows(acc: Accounts, ws: dt.datetime, customer_ids: list[str]) -> list[list[str]]:
    return [
        [
            acc_id(a),
            acc.names[a],
            acc.domains[a],
            str(SEGMENTS[acc.segment[a]]),
            acc.industry[a],
            acc.csm[a],
            customer_ids[a],
            iso(ws, acc.created_day[a], acc.created_sec[a]),
        ]
        for a in range(acc.n)
    ]


def membership_rows(users: Users, window_start: dt.date) -> list[list[str]]:
    """One row per membership period; users identified only by group calls or email have none."""

    def d(x: int) -> str:
        return (window_start + dt.timedelta(days=int(x))).isoformat()

    rows = []
    for u in range(users.n):
        if users.id_class[u] != 0:
            continue
        uid = f"usr_{u + 1:06d}"
        role = str(ROLES[users.role[u]])
        if users.move_day[u] < 10**9:
            rows.append([uid, acc_id(users.acc0[u]), role, d(users.start_day[u]), d(users.move_day[u])])
            rows.append([uid, acc_id(users.acc1[u]), "member", d(users.move_day[u]), ""])
        else:
            end = d(users.end_day[u]) if users.end_day[u] < 10**9 else ""
            rows.append([uid, acc_id(users.acc0[u]), role, d(users.start_day[u]), end])
    return rows


def cs_rows(
    rng: np.random.Generator,
    acc: Accounts,
    users: Users,
    usage: np.ndarray,
    rel: np.ndarray,
    alive: np.ndarray,
    ws: dt.datetime,
    days: int,
    bad_records: bool,
) -> tuple[dict[str, list[list[str]]], dict[str, int]]:
    """CS activities, NPS responses, support tickets and health overrides for the window."""
    acts, nps, tickets, overrides = [], [], [], []
    bad = {"nps_out_of_range": 0, "unknown_account_crm": 0}
    users_by_acc: dict[int, list[int]] = {}
    for u in np.nonzero(users.id_class == 0)[0]:
        users_by_acc.setdefault(int(users.acc0[u]), []).append(int(u))
    human_rate = {0: 0.6, 1: 1.6, 2: 4.0}  # human touches per 30 days at relationship 1.0
    ticket_rate = {0: 0.4, 1: 1.0, 2: 2.5}  # tickets per 30 days at relationship 0.0
    for a in range(acc.n):
        seg = int(acc.segment[a])
        live = np.nonzero(alive[a])[0]
        if live.size == 0:
            continue
        r = rel[a]
        # Human CS touches: Poisson per day with a rate rising steeply with the relationship (a
        # customer whose relationship sours stops taking calls and meetings; a close one asks for them).
        lam = human_rate[seg] / 30.0 * (0.05 + 1.5 * r[live] ** 2)
        for day in live[rng.random(live.size) < lam]:
            kind = ["call", "meeting", "email", "note"][_pick(rng, _KIND_CUM)]
            acts.append((a, int(day), kind, False, _sentiment(rng, kind, r[day]), acc.csm[a]))
        # Quarterly business reviews for mid-market and enterprise.
        if seg >= 1:
            for day in live[(live - acc.created_day[a]) % 91 == 60]:
                if rng.random() < 0.4 + 0.5 * r[day]:
                    acts.append((a, int(day), "qbr", False, _sentiment(rng, "qbr", r[day]), acc.csm[a]))
        # Automated lifecycle emails, roughly monthly.
        for day in live[int(rng.integers(0, 30)) :: 30]:
            acts.append((a, int(day), "email", True, "", "lifecycle-automation"))
        # NPS surveys every ~90 days; respondents' scores follow the relationship level.
        members = users_by_acc.get(a, [])
        if members:
            for day in live[int(rng.integers(0, 90)) :: 90]:
                k = min(len(members), 1 + int(rng.poisson(0.5 + seg)))
                for u in rng.choice(members, size=k, replace=False):
                    score = int(np.clip(np.round(rng.normal(1.5 + 8.5 * r[day], 1.6)), 0, 10))
                    nps.append((a, users.emails0[u], score, int(day)))
        # Support tickets: more when the relationship is poor and usage is high (friction).
        lam_t = ticket_rate[seg] / 30.0 * (0.2 + 1.6 * (1 - r[live])) * np.clip(usage[a, live], 0.2, 1.5)
        for day in live[rng.random(live.size) < lam_t]:
            tickets.append((a, int(day)))
    acts.sort(key=lambda x: (x[1], x[0]))
    nps.sort(key=lambda x: (x[3], x[0]))
    tickets.sort(key=lambda x: (x[1], x[0]))
    out_acts = [
        [
            f"act_{i + 1:07d}",
            acc_id(a),
            iso(ws, d, rng.integers(8 * 3600, 18 * 3600)),
            k,
            "true" if auto else "false",
            s,
            au,
        ]
        for i, (a, d, k, auto, s, au) in enumerate(acts)
    ]
    out_nps = [
        [f"nps_{i + 1:07d}", acc_id(a), e, str(sc), iso(ws, d, rng.integers(0, 86400))]
        for i, (a, e, sc, d) in enumerate(nps)
    ]
    out_tickets = []
    for i, (a, d) in enumerate(tickets):
        opened = int(rng.integers(7 * 3600, 20 * 3600))
        dur = int(rng.exponential(3 * 86400)) + 600
        priority = ["low", "normal", "high", "urgent"][_pick(rng, _PRIORITY_CUM)]
        closed_abs = d * 86400 + opened + dur
        is_open = closed_abs >= days * 86400 or rng.random() < 0.03
        out_tickets.append(
            [
                f"tkt_{i + 1:07d}",
                acc_id(a),
                iso(ws, d, opened),
                "" if is_open else iso(ws, 0, closed_abs),
                priority,
                "open" if is_open else "closed",
            ]
        )
    # CSM health overrides: a few accounts, some already expired at end_date.
    n_over = max(3, acc.n // 40)
    for i, a in enumerate(sorted(rng.choice(acc.n, size=min(n_over, acc.n), replace=False))):
        if i % 3 == 2:  # already expired at end_date
            created = int(rng.integers(0, max(1, days - 10)))
            expires = created + int(rng.integers(1, max(2, days - created)))
        else:
            created = int(rng.integers(max(0, days - 150), days))
            expires = created + int(rng.integers(20, 120))
        low = rel[a, min(created, days - 1)] < 0.5
        quadrant = QUADRANTS[3] if low else QUADRANTS[0]
        score = int(rng.integers(15, 40)) if low else int(rng.integers(70, 90))
        note = (
            "Champion left; exec sponsor unresponsive"
            if low
            else "Strong exec sponsor; renewal verbally agreed"
        )
        overrides.append(
            [
                f"ovr_{i + 1:05d}",
                acc_id(a),
                quadrant,
                str(score),
                note,
                acc.csm[a],
                iso(ws, created, 10 * 3600),
                iso(ws, expires, 10 * 3600),
            ]
        )
    if bad_records:
        for j in range(max(1, len(out_nps) // 500)):
            row = out_nps[int(rng.integers(len(out_nps)))] if out_nps else None
            if row is None:
                break
            out_nps.append([f"nps_9{j + 1:06d}", row[1], row[2], "11", row[4]])
            bad["nps_out_of_range"] += 1
        n_unknown = max(2, len(out_tickets) // 1000)
        for j in range(n_unknown):
            d = int(rng.integers(0, days))
            if j % 2 == 0:
                out_tickets.append(
                    [f"tkt_9{j + 1:06d}", UNKNOWN_CRM_ACCOUNT, iso(ws, d, 36000), "", "normal", "open"]
                )
            else:
                out_acts.append(
                    [
                        f"act_9{j + 1:06d}",
                        UNKNOWN_CRM_ACCOUNT,
                        iso(ws, d, 36000),
                        "call",
                        "false",
                        "neutral",
                        CSMS0,
                    ]
                )
            bad["unknown_account_crm"] += 1
    return (
        {
            "cs_activities": out_acts,
            "nps_responses": out_nps,
            "support_tickets": out_tickets,
            "health_overrides": overrides,
        },
        bad,
    )


CSMS0 = "Alice Moreau"


def _sentiment(rng: np.random.Generator, kind: str, r: float) -> str:
    if kind == "email":
        return ""
    x = rng.random()
    if x < 0.15:
        return ""
    x = rng.random()
    if x < r * 0.85:
        return "positive"
    if x < r * 0.85 + (1 - r) * 0.7:
        return "negative"
    return "neutral"
