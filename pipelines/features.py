"""`account-health features`: the company's own event taxonomy, read from the published warehouse.

It answers "which of our events are key features?" before the health score depends on them:

- one row per track event name (events, accounts, users, first and last seen) and the renewal rate
  of the accounts that used it in the 90 days before a renewal against those that did not
  (`marts.mart_event_taxonomy`; definitions in its YAML and docs/FEATURES.md);
- each configured key feature (seeds/key_features.csv) and the activation milestone (dbt var
  `activation_milestone`) marked as found or not found in the events;
- seed 001's cross-quadrant view: the events Champions use more than the other quadrants, and the
  events Frustrated Power Users use most (`marts.mart_event_usage_by_quadrant`);
- with `--write`, a key_features.csv for the company's own events, weighted by renewal lift when the
  history holds enough decided renewals, else by adoption; the previous file is kept as `.bak` and
  the change is printed as a diff.

It reads the published warehouse rather than the drop: the events are then the staged, deduplicated
events that identity resolution attributed, the same the scores count. The run summary's one-line
key-feature check and the monthly alert rates (`collect_*`) live here too, read from a candidate.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.config import FeatureProposalRules

logger = logging.getLogger(__name__)

TAXONOMY = "marts.mart_event_taxonomy"
BY_QUADRANT = "marts.mart_event_usage_by_quadrant"
ALERTS_MONTHLY = "marts.mart_alerts_monthly"
MILESTONE_EVENT = "onboarding.milestone_completed"
KEY_FEATURE_COLUMNS = ("feature_name", "event_name", "weight")
# the event names other signals read (milestones, paywall hits, quotas) are not features
NOT_FEATURE_ROLES = ("milestone", "feature_gate", "quota_threshold")


class FeaturesError(RuntimeError):
    """The taxonomy cannot be read or written; the message says what to do."""


@dataclass
class KeyFeature:
    feature_name: str
    event_name: str
    weight: float


@dataclass
class Proposal:
    basis: str  # renewal_lift | adoption | none
    reason: str
    features: list[KeyFeature]


# ------------------------------------------------------------------------------------ reading
def _connect(warehouse: Path):
    import duckdb

    if not warehouse.exists():
        raise FeaturesError(
            f"no published warehouse at {warehouse}: `account-health features` reads the events of the "
            "published warehouse; run `account-health run --source-dir DIR --warehouse FILE` first"
        )
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise FeaturesError(f"cannot open {warehouse} read-only: {exc}") from exc


def _tables(con) -> set[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {row[0] for row in rows}


def _records(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_key_features(path: Path) -> list[KeyFeature]:
    """The configured key features; a missing file is none configured, a malformed one an error."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in KEY_FEATURE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise FeaturesError(f"{path} lacks the column(s) {', '.join(missing)}")
        try:
            return [
                KeyFeature(row["feature_name"].strip(), row["event_name"].strip(), float(row["weight"]))
                for row in reader
                if (row.get("event_name") or "").strip()
            ]
        except ValueError as exc:
            raise FeaturesError(f"{path}: a weight is not a number ({exc})") from exc


def configured_milestone(project_dir: Path) -> str | None:
    """The activation milestone of dbt_project.yml's vars (`activation_milestone`)."""
    import yaml

    project = project_dir / "dbt_project.yml"
    if not project.exists():
        return None
    values = yaml.safe_load(project.read_text(encoding="utf-8")) or {}
    milestone = (values.get("vars") or {}).get("activation_milestone")
    return None if milestone is None else str(milestone)


def read_report(
    warehouse: Path,
    key_features_path: Path,
    project_dir: Path,
    rules: FeatureProposalRules | None = None,
) -> dict:
    """Everything `features` prints, as plain data (also what --json writes)."""
    rules = rules or FeatureProposalRules()
    con = _connect(warehouse)
    try:
        tables = _tables(con)
        if TAXONOMY not in tables:
            raise FeaturesError(
                f"{warehouse} has no {TAXONOMY}: it was published by an older version of the warehouse; "
                "run `account-health run` once to build it"
            )
        events = _records(
            con,
            f"select * exclude (key_feature_name, key_feature_weight) from {TAXONOMY} "
            "order by accounts desc, events desc, event_name",
        )
        accounts_total = None
        if "marts.dim_accounts" in tables:
            accounts_total = con.execute("select count(*) from marts.dim_accounts").fetchone()[0]
        milestones_seen: dict[str, int] = {}
        if "intermediate.int_events_matched_to_account_rules" in tables:
            for name, count in con.execute(
                "select milestone_name, count(*) from intermediate.int_events_matched_to_account_rules "
                "where event_name = ? and milestone_name is not null group by 1",
                [MILESTONE_EVENT],
            ).fetchall():
                milestones_seen[str(name)] = int(count)
        by_quadrant = _records(con, f"select * from {BY_QUADRANT}") if BY_QUADRANT in tables else None
        source_dir = None
        if "quality.run_log" in tables:
            row = con.execute(
                "select source_dir from quality.run_log where outcome = 'published' "
                "order by finished_at desc limit 1"
            ).fetchone()
            source_dir = row[0] if row else None
    finally:
        con.close()

    for row in events:
        for column in ("first_seen_at", "last_seen_at"):
            row[column] = None if row[column] is None else row[column].isoformat(sep=" ")
    by_name = {row["event_name"]: row for row in events}
    configured = read_key_features(key_features_path)
    key_features = [
        {
            **asdict(feature),
            "found": feature.event_name in by_name,
            "events": by_name.get(feature.event_name, {}).get("events", 0),
            "accounts": by_name.get(feature.event_name, {}).get("accounts", 0),
        }
        for feature in configured
    ]
    milestone = configured_milestone(project_dir)
    outcomes = _outcome_totals(events)
    report = {
        "warehouse": str(warehouse),
        "published_from": source_dir,
        "accounts": accounts_total,
        "renewal_window_days": events[0]["renewal_window_days"] if events else None,
        "decided_renewals": outcomes["decided"],
        "renewed": outcomes["renewed"],
        "churned": outcomes["churned"],
        "events": events,
        "key_features_file": str(key_features_path),
        "key_features": key_features,
        "milestone": None
        if milestone is None
        else {
            "name": milestone,
            "event_name": MILESTONE_EVENT,
            "found": milestone in milestones_seen,
            "events": milestones_seen.get(milestone, 0),
            "seen_milestones": dict(sorted(milestones_seen.items())),
        },
        # accounts per quadrant on the as-of date (a quadrant without accounts has no rows)
        "quadrant_accounts": None
        if by_quadrant is None
        else {r["quadrant"]: r["accounts"] for r in by_quadrant if r["usage_rank"] == 1},
        "champions_use_more": _champions_use_more(by_quadrant),
        "frustrated_power_users_use_most": _top_of_quadrant(by_quadrant, "Frustrated Power Users"),
    }
    proposal = propose(events, accounts_total, configured, rules)
    report["proposal"] = {
        "basis": proposal.basis,
        "reason": proposal.reason,
        "features": [asdict(feature) for feature in proposal.features],
    }
    return report


def _outcome_totals(events: list[dict]) -> dict[str, int | None]:
    if not events:
        return {"decided": None, "renewed": None, "churned": None}
    row = events[0]
    decided = int(row["outcome_accounts"])
    renewed = int(row["used_renewed_accounts"]) + int(row["not_used_renewed_accounts"])
    return {"decided": decided, "renewed": renewed, "churned": decided - renewed}


def _champions_use_more(by_quadrant: list[dict] | None, limit: int = 5) -> list[dict] | None:
    """Events Champions use more than the other quadrants' accounts (largest gap first)."""
    if by_quadrant is None:
        return None
    rows = [
        r
        for r in by_quadrant
        if r["quadrant"] == "Champions" and r["usage_rate_gap"] is not None and r["usage_rate_gap"] > 0
    ]
    rows.sort(key=lambda r: (-r["usage_rate_gap"], -r["using_accounts"], r["event_name"]))
    return [_quadrant_row(r) for r in rows[:limit]]


def _top_of_quadrant(by_quadrant: list[dict] | None, quadrant: str, limit: int = 5) -> list[dict] | None:
    if by_quadrant is None:
        return None
    rows = [r for r in by_quadrant if r["quadrant"] == quadrant and r["using_accounts"] > 0]
    rows.sort(key=lambda r: r["usage_rank"])
    return [_quadrant_row(r) for r in rows[:limit]]


def _quadrant_row(row: dict) -> dict:
    keys = ("event_name", "quadrant", "accounts", "using_accounts", "usage_rate", "other_usage_rate")
    return {key: row[key] for key in keys} | {"usage_rate_gap": row["usage_rate_gap"]}


# ----------------------------------------------------------------------------------- proposal
def lift_z(row: dict) -> float | None:
    """The renewal-rate lift over its standard error (two-proportion z-test, pooled rate)."""
    used, not_used = row["used_accounts"], row["not_used_accounts"]
    if not used or not not_used:
        return None
    renewed = row["used_renewed_accounts"] + row["not_used_renewed_accounts"]
    pooled = renewed / (used + not_used)
    variance = pooled * (1 - pooled) * (1 / used + 1 / not_used)
    if variance <= 0:
        return None
    lift = row["used_renewed_accounts"] / used - row["not_used_renewed_accounts"] / not_used
    return lift / variance**0.5


def feature_slug(event_name: str) -> str:
    """A feature name from an event name: lowercase words joined by `_` (`Sign Up` -> sign_up)."""
    slug = re.sub(r"[^a-z0-9]+", "_", event_name.lower()).strip("_")
    return slug or "feature"


def _normalised(scores: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Weights in proportion to the scores, in hundredths summing to exactly 1, each at least 0.01.

    Largest remainder: every weight is rounded down to a hundredth, and the hundredths left go to
    the largest remainders, so a larger score never gets a smaller weight."""
    total = sum(score for _, score in scores)
    exact = [score / total * 100 for _, score in scores]
    cents = [max(1, int(value)) for value in exact]
    order = sorted(range(len(scores)), key=lambda i: (-(exact[i] - int(exact[i])), i))
    for i in order[: max(0, 100 - sum(cents))]:
        cents[i] += 1
    while sum(cents) > 100:  # only when the at-least-0.01 floor added hundredths
        cents[cents.index(max(cents))] -= 1
    return [(name, cent / 100) for (name, _), cent in zip(scores, cents, strict=True)]


def propose(
    events: list[dict],
    accounts_total: int | None,
    configured: list[KeyFeature],
    rules: FeatureProposalRules,
) -> Proposal:
    """Key features for the company's own events. See docs/FEATURES.md for the rules."""
    base = accounts_total or max((row["accounts"] for row in events), default=0)
    if not events or not base:
        return Proposal("none", "no track event is attributed to any account", [])
    minimum = max(1, rules.min_account_share * base)
    candidates = [
        row for row in events if row["event_role"] not in NOT_FEATURE_ROLES and row["accounts"] >= minimum
    ]
    totals = _outcome_totals(events)
    decided, churned = totals["decided"] or 0, totals["churned"] or 0
    chosen: list[tuple[str, float]] = []
    basis = "adoption"
    if decided >= rules.min_decided_renewals and churned >= rules.min_churned:
        lifted = [
            row
            for row in candidates
            if row["used_accounts"] >= rules.min_group_accounts
            and row["not_used_accounts"] >= rules.min_group_accounts
            and row["used_accounts"] <= rules.max_account_share * decided
            and (row["renewal_rate_lift"] or 0) > 0
            and (lift_z(row) or 0) >= rules.min_lift_z
        ]
        lifted.sort(key=lambda r: (-r["renewal_rate_lift"], -r["accounts"], r["event_name"]))
        chosen = [
            (row["event_name"], float(row["renewal_rate_lift"])) for row in lifted[: rules.max_features]
        ]
        if chosen:
            basis = "renewal_lift"
            reason = (
                f"{decided} decided renewals ({churned} churned): weights in proportion to each event's "
                f"renewal-rate lift; events with a positive lift, used and not used by at least "
                f"{rules.min_group_accounts} of those accounts each, used by at most "
                f"{rules.max_account_share:.0%} of them, and a lift at least {rules.min_lift_z:g} standard "
                "errors from 0"
            )
        else:
            reason = (
                f"{decided} decided renewals ({churned} churned), but no event renews clearly better when "
                f"used ({rules.min_group_accounts}+ accounts on each side, lift at least "
                f"{rules.min_lift_z:g} standard errors from 0): weights by adoption"
            )
    else:
        reason = (
            f"{decided} decided renewals, {churned} churned: weighing by renewal lift needs at least "
            f"{rules.min_decided_renewals} decided renewals and {rules.min_churned} churns, so weights by "
            "adoption (accounts using the event)"
        )
    if not chosen:
        # by adoption: an event nearly every account sends (a login, a page load) tells none apart
        adopted = [row for row in candidates if row["accounts"] <= rules.max_account_share * base]
        adopted.sort(key=lambda r: (-r["accounts"], -r["events"], r["event_name"]))
        chosen = [(row["event_name"], float(row["accounts"])) for row in adopted[: rules.max_features]]
    if not chosen:
        return Proposal("none", f"no event is used by {minimum:.0f}+ accounts and fits as a feature", [])
    names = {feature.event_name: feature.feature_name for feature in configured}
    used: set[str] = set()
    features = []
    for event_name, weight in _normalised(chosen):
        name = names.get(event_name) or feature_slug(event_name)
        candidate, suffix = name, 2
        while candidate in used:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        used.add(candidate)
        features.append(KeyFeature(candidate, event_name, weight))
    return Proposal(basis, reason, features)


# ------------------------------------------------------------------------------------ writing
def key_features_csv(features: list[KeyFeature]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(KEY_FEATURE_COLUMNS)
    for feature in features:
        writer.writerow([feature.feature_name, feature.event_name, f"{feature.weight:.2f}"])
    return buffer.getvalue()


def write_key_features(path: Path, features: list[KeyFeature]) -> tuple[bool, str, Path | None]:
    """Writes the file; returns (changed, unified diff, backup path). The old file is kept as .bak."""
    if not features:
        raise FeaturesError("nothing to write: no event qualifies as a key feature (see the proposal above)")
    new_text = key_features_csv(features)
    old_text = path.read_text(encoding="utf-8") if path.exists() else ""
    if old_text == new_text:
        return False, "", None
    diff = "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path} (before)",
            tofile=f"{path} (written)",
        )
    )
    backup = None
    if path.exists():
        # .bak, not .csv: dbt loads every .csv of seeds/ as a seed
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)
    return True, diff, backup


# ----------------------------------------------------------------------------------- printing
def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _lift(value) -> str:
    return "n/a" if value is None else f"{value * 100:+.0f} pts"


def format_report(report: dict, limit: int | None = 40) -> list[str]:
    out = [f"event taxonomy of {report['warehouse']}"]
    if report.get("published_from"):
        out[0] += f" (published from {report['published_from']})"
    events = report["events"]
    window = report["renewal_window_days"]
    decided = report["decided_renewals"]
    out.append(
        f"{len(events)} track event names; accounts with a decided renewal: {decided or 0}"
        + (f" ({report['renewed']} renewed, {report['churned']} churned)" if decided else "")
        + (
            f"; renewal rate of accounts that used the event in the {window} days before it vs not"
            if window
            else ""
        )
    )
    header = (
        f"  {'event':36} {'role':12} {'events':>10} {'accounts':>8} {'users':>7}  {'first seen':10}  "
        f"{'last seen':10}  {'renewed if used':>17}  {'if not used':>13}  {'lift':>8}"
    )
    out.append(header)
    shown = events if limit is None else events[:limit]
    for row in shown:
        used = f"{row['used_renewed_accounts']}/{row['used_accounts']} {_pct(row['renewal_rate_used'])}"
        not_used_rate = _pct(row["renewal_rate_not_used"])
        not_used = f"{row['not_used_renewed_accounts']}/{row['not_used_accounts']} {not_used_rate}"
        first, last = (row["first_seen_at"] or "")[:10], (row["last_seen_at"] or "")[:10]
        out.append(
            f"  {row['event_name'][:36]:36} {row['event_role']:12} {row['events']:>10,} "
            f"{row['accounts']:>8,} {row['users']:>7,}  {first:10}  {last:10}  "
            f"{used:>17}  {not_used:>13}  {_lift(row['renewal_rate_lift']):>8}"
        )
    if limit is not None and len(events) > limit:
        out.append(f"  ... {len(events) - limit} more (--json FILE writes every event)")

    configured = report["key_features"]
    found = [f for f in configured if f["found"]]
    out.append(
        f"configured key features ({report['key_features_file']}): "
        f"{len(found)} of {len(configured)} found in the events"
    )
    for feature in configured:
        status = (
            f"found ({feature['events']:,} events, {feature['accounts']:,} accounts)"
            if feature["found"]
            else "NOT FOUND"
        )
        out.append(
            f"  {feature['feature_name']:24} {feature['event_name']:32} "
            f"weight {feature['weight']:.2f}  {status}"
        )
    milestone = report["milestone"]
    if milestone is not None:
        status = f"found ({milestone['events']:,} events)" if milestone["found"] else "NOT FOUND"
        out.append(
            f"activation milestone (dbt var activation_milestone): {milestone['name']} "
            f"({milestone['event_name']} with properties.milestone)  {status}"
        )
        if not milestone["found"] and milestone["seen_milestones"]:
            out.append("  milestones seen: " + ", ".join(milestone["seen_milestones"]))

    sizes = report["quadrant_accounts"]
    out.append("Champions use more than the other quadrants (last 30 days, share of accounts):")
    out.extend(_quadrant_lines(report["champions_use_more"], sizes, "Champions", gap=True))
    out.append("Frustrated Power Users use most (last 30 days, share of accounts):")
    out.extend(
        _quadrant_lines(report["frustrated_power_users_use_most"], sizes, "Frustrated Power Users", gap=False)
    )

    proposal = report["proposal"]
    out.append(f"proposed key features (basis: {proposal['basis']}): {proposal['reason']}")
    for feature in proposal["features"]:
        out.append(
            f"  {feature['feature_name']:24} {feature['event_name']:32} weight {feature['weight']:.2f}"
        )
    return out


def _quadrant_lines(rows: list[dict] | None, sizes: dict | None, quadrant: str, gap: bool) -> list[str]:
    if rows is None or sizes is None:
        return ["  n/a: marts.mart_event_usage_by_quadrant is not in this warehouse"]
    if quadrant not in sizes:
        held = ", ".join(f"{name} {count:,}" for name, count in sorted(sizes.items())) or "none"
        return [f"  none: no account is in {quadrant} on the as-of date (accounts by quadrant: {held})"]
    if not rows and gap:
        return [f"  none: no event that {quadrant} use more than the other quadrants' accounts"]
    if not rows:
        return [f"  none: no account in {quadrant} sent an event in the window"]
    lines = []
    for row in rows:
        line = (
            f"  {row['event_name'][:36]:36} {row['using_accounts']:>5} of {row['accounts']:<5} "
            f"{_pct(row['usage_rate']):>5}  others {_pct(row['other_usage_rate']):>5}"
        )
        if gap:
            line += f"  gap {_lift(row['usage_rate_gap'])}"
        lines.append(line)
    return lines


def run(
    warehouse: Path,
    key_features_path: Path,
    project_dir: Path,
    write: bool = False,
    json_path: Path | None = None,
    source_dir: Path | None = None,
    emit=print,
) -> int:
    """The `features` command; returns the exit status (0 ok, 1 error)."""
    try:
        report = read_report(warehouse, key_features_path, project_dir)
    except FeaturesError as exc:
        emit(f"features: {exc}")
        return 1
    if source_dir is not None and report["published_from"] and Path(report["published_from"]) != source_dir:
        emit(
            f"note: {warehouse} was published from {report['published_from']}, not {source_dir}; "
            f"run `account-health run --source-dir {source_dir}` to read that drop's events"
        )
    for line in format_report(report):
        emit(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        emit(f"wrote {json_path}")
    if write:
        features = [KeyFeature(**feature) for feature in report["proposal"]["features"]]
        try:
            changed, diff, backup = write_key_features(key_features_path, features)
        except FeaturesError as exc:
            emit(f"features: {exc}")
            return 1
        if not changed:
            emit(f"{key_features_path} already holds the proposed key features; unchanged")
        else:
            emit(
                f"wrote {key_features_path}" + (f" (previous file kept as {backup})" if backup else "") + ":"
            )
            for line in diff.splitlines():
                emit(line)
            emit(
                "run again to score with them: `account-health run` re-scores the whole history with the "
                "new key features (the health chain's fingerprints include them)"
            )
    return 0


# ------------------------------------------------------------------------ run summary (quality)
def collect_key_feature_coverage(path: Path) -> dict | None:
    """How many configured key features the candidate's events carry (the summary's one line).

    None when the candidate has no taxonomy or seed yet (not built is not zero)."""
    import duckdb

    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = _tables(con)
        if TAXONOMY not in tables or "staging.key_features" not in tables:
            return None
        configured = [row[0] for row in con.execute("select event_name from staging.key_features").fetchall()]
        seen = {
            row[0]
            for row in con.execute(
                f"select event_name from {TAXONOMY} "
                "where event_name in (select event_name from staging.key_features)"
            ).fetchall()
        }
        adoption_known = None
        if "marts.dim_accounts" in tables:
            adoption_known = con.execute("select count(adoption_score) from marts.dim_accounts").fetchone()[0]
    finally:
        con.close()
    missing = [name for name in configured if name not in seen]
    return {"configured": len(configured), "missing": missing, "accounts_with_adoption": adoption_known}


def describe_key_feature_coverage(coverage: dict | None) -> str | None:
    """The summary line, with the remedy when configured key features are missing from the events."""
    if coverage is None:
        return None
    configured, missing = coverage["configured"], coverage["missing"]
    remedy = (
        "Run `account-health features` to see the company's own events and "
        "`account-health features --write` to configure them, then run again"
    )
    if configured == 0:
        return (
            "key features: none configured (seeds/key_features.csv is empty); "
            f"adoption and depth are unknown. {remedy}."
        )
    if len(missing) == configured:
        effect = (
            "adoption and depth are unknown"
            if not coverage.get("accounts_with_adoption")
            else "adoption and depth count nothing for every account"
        )
        return (
            f"key features: none of the {configured} configured events appear in the events; "
            f"{effect}. {remedy}."
        )
    if missing:
        return (
            f"key features: {len(missing)} of {configured} configured events never appear "
            f"({', '.join(missing)}); adoption can never count them. {remedy}."
        )
    return f"key features: all {configured} configured events appear in the events"


def collect_alert_rates(path: Path, months: int = 3) -> dict | None:
    """Accounts alerted / accounts scored per alert type for the latest months of the candidate.

    {"months": [...], "scored_accounts": {month: n}, "rates": {type: {month: (alerted, share)}}};
    None when the mart is not built."""
    import duckdb

    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        if ALERTS_MONTHLY not in _tables(con):
            return None
        rows = con.execute(
            f"""
            with latest as (
                select distinct month_start from {ALERTS_MONTHLY} order by month_start desc limit ?
            )
            select cast(m.month_start as varchar), m.alert_type, m.scored_accounts, m.alerted_accounts,
                   m.alerted_account_share
            from {ALERTS_MONTHLY} as m
            inner join latest on m.month_start = latest.month_start
            order by 1, 2
            """,
            [months],
        ).fetchall()
    finally:
        con.close()
    result: dict = {"months": [], "scored_accounts": {}, "rates": {}}
    for month, alert_type, scored, alerted, share in rows:
        if month not in result["months"]:
            result["months"].append(month)
        result["scored_accounts"][month] = int(scored)
        result["rates"].setdefault(alert_type, {})[month] = (int(alerted), float(share))
    return result


def describe_alert_rates(rates: dict | None) -> list[str]:
    if rates is None:
        return []
    if not rates["months"]:
        return ["alerts per month: no scored month yet"]
    months = rates["months"]
    lines = [
        "alerts per month (accounts alerted / accounts scored; marts.mart_alerts_monthly):",
        f"  {'':28}" + "".join(f"{month[:7]:>20}" for month in months),
        f"  {'accounts scored':28}" + "".join(f"{rates['scored_accounts'][m]:>20,}" for m in months),
    ]
    for alert_type, by_month in sorted(rates["rates"].items()):
        cells = []
        for month in months:
            alerted, share = by_month.get(month, (0, 0.0))
            flag = " !" if share > 0.5 else ""
            cells.append(f"{alerted:,} ({share:.0%}){flag}".rjust(20))
        lines.append(f"  {alert_type:28}" + "".join(cells))
    if any(share > 0.5 for by_month in rates["rates"].values() for _, share in by_month.values()):
        lines.append(
            "  ! fired for more than half the scored accounts that month: check the rule's thresholds"
        )
    return lines


def collect_summary_checks(path: Path) -> dict:
    """The quality step's key-feature coverage and monthly alert rates of a built candidate."""
    return {"key_features": collect_key_feature_coverage(path), "alert_rates": collect_alert_rates(path)}


def summary_lines(checks: dict | None) -> list[str]:
    """The run summary's lines for collect_summary_checks' result (none when nothing was built)."""
    if not checks:
        return []
    lines = []
    coverage = describe_key_feature_coverage(checks.get("key_features"))
    if coverage:
        lines.append(coverage)
    return lines + describe_alert_rates(checks.get("alert_rates"))


def run_cli(settings, args, emit) -> int:
    """`account-health features` from the CLI's parsed arguments."""
    key_features_path = args.key_features or settings.project_dir / "seeds" / "key_features.csv"
    explicit_source = settings.source_dir if getattr(args, "source_dir", None) else None
    return run(
        settings.warehouse,
        Path(key_features_path).expanduser().resolve(),
        settings.project_dir,
        write=args.write,
        json_path=args.json,
        source_dir=explicit_source,
        emit=emit,
    )
