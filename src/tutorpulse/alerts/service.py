"""Alerts service: rules store, generation, lifecycle, listing and statistics.

Services flush, never commit; the edges (api, pages, cli, jobs) own the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from tutorpulse.alerts import repository
from tutorpulse.alerts.evaluate import EvalParams, build_frame
from tutorpulse.alerts.generate import GenerateResult, apply, rerender_messages
from tutorpulse.alerts.lifecycle import ACTIONS, transition
from tutorpulse.alerts.models import AlertRule
from tutorpulse.alerts.queries import get_alert_detail, list_alerts, stats
from tutorpulse.alerts.rules import Rule, RuleError, build_rule, evaluate_rule, load_default_rules
from tutorpulse.alerts.schemas import RuleRead
from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.clock import utcnow
from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings

__all__ = [
    "ACTIONS",
    "BACKTEST_JOB",
    "GENERATE_JOB",
    "backtest",
    "backtest_window",
    "generate",
    "get_alert_detail",
    "last_backtest",
    "list_alerts",
    "list_rules",
    "preview_rules",
    "run_generate",
    "stats",
    "transition",
    "update_messages",
    "update_rule",
]

GENERATE_JOB = "alerts.generate"
BACKTEST_JOB = "alerts.backtest"
# ``alert_rule.updated_by`` of a rule as shipped (seeded or refreshed, never edited).
SHIPPED = "system"
RULE_FIELDS = ("severity", "category", "base_priority", "cooldown_hours", "resolve_after_hours")


def eval_params(settings: Settings) -> EvalParams:
    return EvalParams(
        first_session_hours=settings.alerts_first_session_hours,
        noshow_hours=settings.alerts_noshow_hours,
        trend_sessions=settings.alerts_trend_sessions,
        trend_min_sessions=settings.alerts_trend_min_sessions,
        trend_days=settings.alerts_trend_days,
    )


def _row_data(row: AlertRule) -> dict[str, Any]:
    data: dict[str, Any] = dict(row.params or {})
    data.update({f: getattr(row, f) for f in RULE_FIELDS})
    data["enabled"] = row.enabled
    return data


def _shipped_row_data(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = rule.params()
    data.update({f: getattr(rule, f) for f in RULE_FIELDS})
    data["enabled"] = rule.enabled
    return data


def _apply_shipped(row: AlertRule, rule: Rule) -> None:
    for f in RULE_FIELDS:
        setattr(row, f, getattr(rule, f))
    row.enabled = rule.enabled
    row.params = rule.params()
    row.updated_by = SHIPPED


def ensure_rules(db: Session, *, now: datetime | None = None) -> list[AlertRule]:
    """The stored rules, in sync with the shipped defaults (default_rules.yaml).

    A default rule that is not stored yet is seeded; a stored rule no admin has
    edited (``updated_by`` is still "system") is updated when the shipped default
    changed; a rule an admin edited keeps the edits.
    """
    rows = {r.key: r for r in repository.rule_rows(db)}
    changed = False
    for rule in load_default_rules():
        row = rows.get(rule.key)
        if row is None:
            row = AlertRule(key=rule.key)
            _apply_shipped(row, rule)
            db.add(row)
            rows[rule.key] = row
            changed = True
        elif row.updated_by == SHIPPED and _row_data(row) != _shipped_row_data(rule):
            _apply_shipped(row, rule)
            row.updated_at = now or utcnow()
            changed = True
    if changed:
        db.flush()
    return [rows[k] for k in sorted(rows)]


def list_rules(db: Session) -> list[Rule]:
    """Every stored rule, validated (seeding defaults first)."""
    return [build_rule(row.key, _row_data(row)) for row in ensure_rules(db)]


def update_rule(
    db: Session, *, key: str, changes: dict[str, Any], actor: Actor, now: datetime
) -> Rule:
    """Change a rule's settings (validated as a whole); audited. Raises NotFound/Invalid."""
    rows = {r.key: r for r in ensure_rules(db, now=now)}
    row = rows.get(key)
    if row is None:
        raise NotFound(f"No alert rule {key!r}")
    before = _row_data(row)
    data = {**before, **changes}
    try:
        rule = build_rule(key, data)
    except RuleError as exc:
        raise Invalid.field(exc.field, exc.reason) from exc
    for f in RULE_FIELDS:
        setattr(row, f, getattr(rule, f))
    row.enabled = rule.enabled
    row.params = rule.params()
    row.updated_by = actor.label
    row.updated_at = now
    db.flush()
    changed = {k: [before.get(k), v] for k, v in changes.items() if before.get(k) != v}
    record_audit(
        db,
        actor=actor,
        action="alert_rule.update",
        target_type="alert_rule",
        target_id=key,
        details={"changes": changed},
    )
    return rule


def update_messages(
    db: Session, *, actor: Actor, request_id: str | None = None
) -> tuple[int, int, int]:
    """The original's ``update-messages``: re-render every unresolved alert's message from
    the current rules (after an admin edited a template or threshold). Audited.
    Returns (updated, unchanged, errors)."""
    counts = rerender_messages(db, list_rules(db))
    record_audit(
        db,
        actor=actor,
        action="alert.update_messages",
        target_type="alert",
        target_id="*",
        details=dict(zip(("updated", "unchanged", "errors"), counts, strict=True)),
        request_id=request_id,
    )
    return counts


def generate(
    db: Session,
    *,
    now: datetime,
    settings: Settings,
    tutor_ids: Sequence[int] | None = None,
) -> GenerateResult:
    """Evaluate the rules for ``tutor_ids`` (all active tutors when None) and apply them."""
    rules = list_rules(db)
    frame = build_frame(db, now=now, rules=rules, params=eval_params(settings), tutor_ids=tutor_ids)
    return apply(
        db,
        frame=frame,
        rules=rules,
        now=now,
        inhibition=settings.alerts_inhibition,
        full=tutor_ids is None,
    )


@dataclass
class Prepared:
    """What a generate run evaluated (read phase); ``apply_prepared`` writes it."""

    rules: list[Rule]
    frame: pd.DataFrame
    full: bool


def prepare_generate(
    db: Session, *, now: datetime, settings: Settings, changed_since: datetime | None = None
) -> Prepared:
    """Read phase of a scheduled run: a full pass when one is due, else changed tutors only.

    Changed = health recomputed or a session risk scored since the previous succeeded
    run started, an alert waiting out its hysteresis, or an upcoming first session.
    A follow-up run (``changed_since`` given: right after a health refresh) never makes
    a full pass; it looks at what changed since that moment. Full passes stay with the
    scheduled job.
    """
    rules = list_rules(db)
    params = eval_params(settings)
    if changed_since is None:
        runs = repository.last_generate_runs(db, job_name=GENERATE_JOB)
        last_full = next((r for r in runs if (r.counts or {}).get("mode") == "full"), None)
        full_due = last_full is None or now - last_full.started_at >= timedelta(
            minutes=settings.alerts_full_pass_minutes
        )
        if full_due or not runs:
            return Prepared(rules, build_frame(db, now=now, rules=rules, params=params), True)
        changed_since = runs[0].started_at
    ids = repository.changed_tutor_ids(db, since=changed_since)
    first = repository.upcoming_first_sessions(
        db, start=now, end=now + timedelta(hours=settings.alerts_first_session_hours)
    )
    ids.update(int(t) for t in first["tutor_id"])
    frame = build_frame(db, now=now, rules=rules, params=params, tutor_ids=sorted(ids))
    return Prepared(rules, frame, False)


def apply_prepared(
    db: Session, prepared: Prepared, *, now: datetime, settings: Settings
) -> GenerateResult:
    """Write phase: create/update/resolve alerts from a prepared evaluation."""
    return apply(
        db,
        frame=prepared.frame,
        rules=prepared.rules,
        now=now,
        inhibition=settings.alerts_inhibition,
        full=prepared.full,
    )


def run_generate(db: Session, *, now: datetime, settings: Settings) -> GenerateResult:
    """A scheduled run in one session (tests; the job splits read and write phases)."""
    return apply_prepared(
        db, prepare_generate(db, now=now, settings=settings), now=now, settings=settings
    )


def preview_rules(db: Session, *, now: datetime, settings: Settings) -> dict[str, int]:
    """How many active tutors each stored rule would fire on right now (nothing written)."""
    rules = list_rules(db)
    frame = build_frame(db, now=now, rules=rules, params=eval_params(settings))
    if frame.empty:
        return {r.key: 0 for r in rules}
    return {r.key: int(evaluate_rule(r, frame).fires.sum()) for r in rules}


def rule_read(rule: Rule, firing_now: int | None) -> RuleRead:
    return RuleRead(
        key=rule.key,
        enabled=rule.enabled,
        severity=rule.severity,
        category=rule.category,
        base_priority=rule.base_priority,
        cooldown_hours=rule.cooldown_hours,
        resolve_after_hours=rule.resolve_after_hours,
        metric=rule.metric,
        op=rule.op,
        threshold=rule.threshold,
        resolve_threshold=rule.resolve_threshold,
        title=rule.title,
        message=rule.message,
        guards=rule.params()["guards"],
        firing_now=firing_now,
    )


def list_assignees(db: Session) -> list[tuple[int, str]]:
    """Active coaches and admins as (id, label) for the assign menus."""
    return [(u.id, u.name or u.email) for u in repository.assignable_users(db)]


def severity_counts(db: Session) -> dict[str, int]:
    """Unresolved, unsuppressed alerts by severity (the inbox header)."""
    return repository.open_severity_counts(db)


def backtest(
    db: Session,
    *,
    start: date,
    end: date,
    settings: Settings,
    step_days: int = 1,
    coaches: int | None = None,
    progress: Callable[[date], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the stored rules as of each past day (see alerts/backtest.py)."""
    from tutorpulse.alerts.backtest import SCORE_FRESH_DAYS, BacktestData, run_backtest
    from tutorpulse.engagement.rollups import DAILY_COLUMNS

    if end < start:
        raise Invalid.field("to", "must not be before from")
    rules = list_rules(db)
    since = datetime.combine(start, time(), tzinfo=UTC) - timedelta(days=settings.alerts_trend_days)
    until = datetime.combine(end + timedelta(days=3), time(), tzinfo=UTC)
    data = BacktestData(
        daily=repository.all_daily(db, DAILY_COLUMNS),
        tutors=repository.all_tutors(db),
        scores=repository.scored_sessions(db, since=since, until=until),
        first_sessions=repository.first_sessions(db, since=since, until=until),
        churn_scores=repository.churn_score_history(
            db, first=start - timedelta(days=SCORE_FRESH_DAYS - 1), last=end
        ),
    )
    n_coaches = coaches if coaches is not None else max(1, repository.coach_count(db))
    return run_backtest(
        data,
        rules,
        start=start,
        end=end,
        step_days=step_days,
        coaches=n_coaches,
        params={
            "trend_sessions": settings.alerts_trend_sessions,
            "trend_min": settings.alerts_trend_min_sessions,
            "trend_days": settings.alerts_trend_days,
            "first_session_hours": settings.alerts_first_session_hours,
        },
        progress=progress,
    )


def backtest_window(now: datetime, settings: Settings) -> tuple[date, date]:
    """The ``alerts.backtest`` job's days: ``ALERTS_BACKTEST_DAYS`` ending 60 days before
    ``now``'s UTC date, so every evaluated day has its full 60-day churn outcome."""
    from tutorpulse.alerts.backtest import HORIZON_DAYS

    end = now.astimezone(UTC).date() - timedelta(days=HORIZON_DAYS)
    return end - timedelta(days=settings.alerts_backtest_days - 1), end


@dataclass
class BacktestRun:
    """The newest ``alerts.backtest`` run and the newest report (they differ while a run
    is going or when the last one failed)."""

    latest: JobRun | None
    report: dict[str, Any] | None
    report_at: datetime | None


def last_backtest(db: Session) -> BacktestRun:
    latest = repository.last_job_run(db, job_name=BACKTEST_JOB)
    done = repository.last_job_run(db, job_name=BACKTEST_JOB, status="succeeded")
    return BacktestRun(
        latest=latest,
        report=dict(done.counts or {}) if done else None,
        report_at=done.started_at if done else None,
    )
