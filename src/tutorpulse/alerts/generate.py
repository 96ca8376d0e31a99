"""Apply rule evaluations to stored alerts: dedup, cooldown, hysteresis, inhibition."""

from __future__ import annotations

import contextlib
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from tutorpulse.alerts import repository
from tutorpulse.alerts.models import Alert, AlertEvent
from tutorpulse.alerts.rules import (
    Evaluation,
    Rule,
    evaluate_rule,
    priority,
    render_message,
    tutor_priority,
)

SYSTEM = "system"


@dataclass
class GenerateResult:
    generated: int = 0
    updated: int = 0
    resolved: int = 0
    skipped: int = 0
    errors: int = 0
    evaluated: int = 0
    snooze_expired: int = 0
    priorities_changed: int = 0
    mode: str = "full"
    by_rule: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "updated": self.updated,
            "resolved": self.resolved,
            "skipped": self.skipped,
            "errors": self.errors,
            "evaluated": self.evaluated,
            "snoozeExpired": self.snooze_expired,
            "prioritiesChanged": self.priorities_changed,
            "mode": self.mode,
            "byRule": self.by_rule,
        }


def fingerprint(rule_key: str, tutor_id: int) -> str:
    return f"{rule_key}:{tutor_id}"


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else value
    if hasattr(value, "item"):
        return _plain(value.item())
    if value is pd.NaT:
        return None
    return str(value)


def rule_fields(rule: Rule) -> list[str]:
    """The frame columns a rule reads or quotes (metric, guards, message placeholders)."""
    names = {rule.metric, *(g.metric for g in rule.guards)}
    names.update(n for _t, n, _s, _c in string.Formatter().parse(rule.message) if n)
    names.discard("threshold")
    return sorted(names)


def _evidence(rule: Rule, values: dict[str, Any]) -> dict[str, Any]:
    names = rule_fields(rule)
    return {
        "values": {n: _plain(values.get(n)) for n in names},
        "threshold": rule.threshold,
        "resolveThreshold": rule.resolve_threshold,
        "op": rule.op,
    }


def revive(stored: dict[str, Any]) -> dict[str, Any]:
    """Evidence values as the message renderer first saw them: timestamps are stored as
    ISO text (``_plain``) and come back as datetimes, so they render the same way."""
    out: dict[str, Any] = {}
    for name, value in stored.items():
        if isinstance(value, str) and len(value) > 10 and value[10] == "T":
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
        out[name] = value
    return out


def rerender_messages(db: Session, rules: Sequence[Rule]) -> tuple[int, int, int]:
    """Re-render every unresolved alert's message from its rule's current template and
    threshold and the values stored in its evidence. Returns (updated, unchanged, errors):
    an alert whose rule is gone or whose values no longer fill the template is an error
    and keeps its message."""
    by_key = {r.key: r for r in rules}
    updated = unchanged = errors = 0
    for alert in repository.unresolved_alerts(db, tutor_ids=None):
        rule = by_key.get(alert.rule_key)
        stored = (alert.evidence or {}).get("values")
        if rule is None or not isinstance(stored, dict):
            errors += 1
            continue
        try:
            values = revive(stored)
            message = render_message(rule.message, {**values, "threshold": rule.threshold})
        except (ValueError, TypeError, KeyError):
            errors += 1
            continue
        if message == alert.message:
            unchanged += 1
        else:
            alert.message = message
            updated += 1
    db.flush()
    return updated, unchanged, errors


def _resolve(db: Session, alert: Alert, now: datetime, note: str) -> None:
    alert.state = "resolved"
    alert.resolved_at = now
    alert.resolved_by = SYSTEM
    alert.snoozed_until = None
    db.add(AlertEvent(alert_id=alert.id, action="resolve", actor=SYSTEM, at=now, note=note))


def inhibit(rules: Sequence[Rule], evals: dict[str, Evaluation]) -> dict[str, pd.Series]:
    """Per rule, the tutors whose firing is suppressed by a critical alert in the same category."""
    out: dict[str, pd.Series] = {}
    for rule in rules:
        mask = None
        for source in rules:
            if (
                source.severity == "critical"
                and source.category == rule.category
                and source.severity_rank > rule.severity_rank
            ):
                fires = evals[source.key].fires
                mask = fires if mask is None else (mask | fires)
        if mask is not None:
            out[rule.key] = mask & evals[rule.key].fires
    return out


def apply(
    db: Session,
    *,
    frame: pd.DataFrame,
    rules: Sequence[Rule],
    now: datetime,
    inhibition: bool,
    full: bool,
) -> GenerateResult:
    """Create, update and auto-resolve alerts for the tutors in ``frame``; returns counts."""
    result = GenerateResult(mode="full" if full else "incremental", evaluated=len(frame))
    touched: set[int] = set()
    for woken in repository.expired_snoozes(db, now=now):
        touched.add(woken.tutor_id)
        woken.state = "acknowledged" if woken.acknowledged_at else "open"
        woken.snoozed_until = None
        db.add(AlertEvent(alert_id=woken.id, action="snooze_expired", actor=SYSTEM, at=now))
        result.snooze_expired += 1
    active = [r for r in rules if r.enabled]
    by_key = {r.key: r for r in rules}
    evals = {r.key: evaluate_rule(r, frame) for r in active}
    inhibited = inhibit(active, evals) if inhibition else {}
    ids = None if full else list(frame.index)
    existing = {a.fingerprint: a for a in repository.unresolved_alerts(db, tutor_ids=ids)}
    longest = max((r.cooldown_hours for r in active), default=0)
    resolved_at = repository.last_resolved(db, since=now - timedelta(hours=longest))
    evaluated = set(frame.index)
    # A critical alert per (tutor, category), by fingerprint: it may not have an id yet.
    critical_alert: dict[tuple[int, str], str] = {}
    created: list[dict[str, Any]] = []  # new alerts, inserted in bulk below
    # Re-triggered open alerts, updated in bulk by primary key below (their ORM objects
    # are not touched, so ``seen`` says which ones fired in this pass).
    updates: list[dict[str, Any]] = []
    touched_ids: list[int] = []  # re-triggered with nothing else changed
    seen: set[str] = set()
    suppressed: list[tuple[Alert, str]] = []

    for rule in sorted(active, key=lambda r: -r.severity_rank):
        ev = evals[rule.key]
        blocked = inhibited.get(rule.key)
        firing = ev.fires[ev.fires]
        result.by_rule[rule.key] = len(firing)
        columns = [c for c in rule_fields(rule) if c in frame.columns]
        records = frame.loc[firing.index, columns].to_dict("index")
        for tutor_id in firing.index:
            fp = fingerprint(rule.key, int(tutor_id))
            alert = existing.get(fp)
            if blocked is not None and bool(blocked.get(tutor_id, False)):
                source = critical_alert.get((int(tutor_id), rule.category))
                if alert is not None and source is not None:
                    suppressed.append((alert, source))
                result.skipped += 1
                continue
            try:
                values: dict[str, Any] = {str(k): v for k, v in records[tutor_id].items()}
                values["threshold"] = rule.threshold
                value = _plain(values.get(rule.metric))
                message = render_message(rule.message, values)
                score = priority(rule, value)
                evidence = _evidence(rule, values)
            except (ValueError, TypeError, KeyError):
                result.errors += 1
                continue
            if alert is not None:
                seen.add(fp)
                result.updated += 1
                if (
                    alert.metric_value == value
                    and alert.message == message
                    and alert.priority == score
                    and alert.evidence == evidence
                    and alert.condition_cleared_at is None
                    and alert.suppressed_by_id is None
                ):
                    # Re-triggered with the same values: only last seen moves.
                    touched_ids.append(alert.id)
                else:
                    updates.append(
                        {
                            "id": alert.id,
                            "last_seen_at": now,
                            "metric_value": value,
                            "message": message,
                            "priority": score,
                            "evidence": evidence,
                            "condition_cleared_at": None,
                            "suppressed_by_id": None,
                        }
                    )
            else:
                last = resolved_at.get(fp)
                if last is not None and now < last + timedelta(hours=rule.cooldown_hours):
                    result.skipped += 1
                    continue
                created.append(
                    {
                        "rule_key": rule.key,
                        "tutor_id": int(tutor_id),
                        "fingerprint": fp,
                        "severity": rule.severity,
                        "severity_rank": rule.severity_rank,
                        "category": rule.category,
                        "priority": score,
                        "state": "open",
                        "title": rule.title,
                        "message": message,
                        "metric": rule.metric,
                        "metric_value": value,
                        "threshold": rule.threshold,
                        "evidence": evidence,
                        "created_at": now,
                        "last_seen_at": now,
                    }
                )
                result.generated += 1
            if rule.severity == "critical":
                critical_alert[(int(tutor_id), rule.category)] = fp

    # New alerts in bulk (ids for their history and for the suppression links); a first
    # pass on a large world creates tens of thousands.
    alert_ids = {a.fingerprint: a.id for a in existing.values()}
    if created:
        # Plain executemany (with RETURNING in parameter order SQLite runs one statement
        # per row: 12 s for 52k alerts), then the ids by fingerprint: a fingerprint has at
        # most one unresolved alert.
        db.execute(insert(Alert), created)
        fresh = repository.unresolved_ids(db, [r["fingerprint"] for r in created])
        alert_ids.update(fresh)
        new_ids = [fresh[r["fingerprint"]] for r in created]
        db.execute(
            insert(AlertEvent),
            [{"alert_id": int(i), "action": "created", "actor": SYSTEM, "at": now, "data": {}}
             for i in new_ids],
        )  # fmt: skip
    if updates:
        db.execute(update(Alert), updates)
    repository.touch_alerts(db, touched_ids, now)
    for target, source_fp in suppressed:
        target.suppressed_by_id = alert_ids[source_fp]

    # A full pass evaluates every active tutor: the alerts of tutors who are no longer
    # active (paused, churned) are resolved, their condition can no longer be judged.
    gone: set[int] = set()
    if full:
        outside = {a.tutor_id for a in existing.values() if a.tutor_id not in evaluated}
        gone = repository.inactive_tutor_ids(db, outside)
    for open_alert in existing.values():
        if open_alert.tutor_id in gone:
            _resolve(db, open_alert, now, "resolved by system: the tutor is no longer active")
            result.resolved += 1

    # Hysteresis: an alert whose condition has stayed clear long enough resolves itself.
    for open_alert in existing.values():
        rrule = by_key.get(open_alert.rule_key)
        if rrule is None or not rrule.enabled or open_alert.tutor_id not in evaluated:
            continue
        if open_alert.fingerprint in seen:
            continue
        if not bool(evals[rrule.key].clear.get(open_alert.tutor_id, False)):
            open_alert.condition_cleared_at = None
            continue
        if open_alert.condition_cleared_at is None:
            open_alert.condition_cleared_at = now
        if now >= open_alert.condition_cleared_at + timedelta(hours=rrule.resolve_after_hours):
            note = f"resolved by system: condition clear for {rrule.resolve_after_hours} h"
            _resolve(db, open_alert, now, note)
            result.resolved += 1
    db.flush()
    scope = None if full else sorted(touched | {int(t) for t in evaluated})
    result.priorities_changed = store_tutor_priorities(db, tutor_ids=scope)
    return result


def store_tutor_priorities(db: Session, *, tutor_ids: Sequence[int] | None) -> int:
    """Store each tutor's priority (``rules.tutor_priority`` of its alerts that ask for
    attention: open or acknowledged, not snoozed, not suppressed) in
    ``tutor_health.priority_score``; 0 for a tutor with none. ``tutor_ids`` None = every
    tutor. Only changed values are written; returns how many."""
    frame = repository.open_priorities(db, tutor_ids=tutor_ids)
    alerts: dict[int, list[float]] = {}
    for tutor_id, value in zip(frame["tutor_id"], frame["priority"], strict=True):
        alerts.setdefault(int(tutor_id), []).append(float(value))
    stored = repository.stored_priorities(db, tutor_ids=tutor_ids)
    changes = {}
    for tutor_id, current in stored.items():
        target = tutor_priority(alerts.get(tutor_id, []))
        if current != target:
            changes[tutor_id] = target
    repository.write_priorities(db, changes)
    return len(changes)
