"""Dedup, cooldown, snooze expiry, inhibition, lifecycle actors and message rendering."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.alerts.models import Alert, AlertEvent
from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Conflict, Invalid
from tutorpulse.core.models import AuditLog
from tutorpulse.core.settings import Settings

H = timedelta(hours=1)
TODAY = date(2025, 3, 1)
COACH = Actor(kind="user", id=None, name="coach@example.test", role="coach")


def run(db: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    return service.generate(db, now=now, settings=settings).as_dict()


def churny(factory: Any) -> Any:
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, churn_probability=0.8, churn_risk_level="high")
    return tutor


def test_rerunning_creates_nothing_new(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = churny(factory)
    first = run(db, settings, now)
    second = run(db, settings, now + H)
    assert (first["generated"], second["generated"], second["updated"]) == (1, 0, 1)
    [alert] = db.scalars(select(Alert)).all()
    assert alert.last_seen_at == now + H
    assert alert.created_at == now
    assert alert.metric_value == 0.8
    # A re-trigger with a new value rewrites the value and the message, not only last seen.
    factory.health(tutor, churn_probability=0.9)
    third = run(db, settings, now + 2 * H)
    assert (third["generated"], third["updated"]) == (0, 1)
    db.refresh(alert)
    assert (alert.last_seen_at, alert.metric_value) == (now + 2 * H, 0.9)
    assert "90" in alert.message
    assert "80" not in alert.message


def test_cooldown_after_resolution(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    churny(factory)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    service.transition(db, alert_id=alert.id, action="resolve", actor=COACH, now=now + H)
    cooldown = 48  # churn_risk_high's shipped cooldown
    during = run(db, settings, now + H + timedelta(hours=cooldown) - H)
    assert during["generated"] == 0
    assert during["skipped"] == 1
    after = run(db, settings, now + H + timedelta(hours=cooldown))
    assert after["generated"] == 1
    assert len(db.scalars(select(Alert)).all()) == 2


def test_snooze_expires_back_to_open(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    churny(factory)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    service.transition(
        db, alert_id=alert.id, action="snooze", actor=COACH, now=now, snooze_until=now + 5 * H
    )
    run(db, settings, now + 4 * H)
    db.refresh(alert)
    assert alert.state == "snoozed"
    counts = run(db, settings, now + 5 * H)
    db.refresh(alert)
    assert alert.state == "open"
    assert alert.snoozed_until is None
    assert counts["snoozeExpired"] == 1
    actions = [e.action for e in db.scalars(select(AlertEvent).order_by(AlertEvent.id))]
    assert actions == ["created", "snooze", "snooze_expired"]


def test_snooze_needs_a_future_time(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    churny(factory)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    with pytest.raises(Invalid) as err:
        service.transition(
            db, alert_id=alert.id, action="snooze", actor=COACH, now=now, snooze_until=now
        )
    assert err.value.details[0].field == "snoozeUntil"


def test_critical_alert_inhibits_lower_same_category(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = factory.tutor()
    last = TODAY - timedelta(days=20)
    factory.health(
        tutor, local_day=TODAY, days_since_last_login=9, sessions_30d=0, last_completed_on=last
    )
    counts = run(db, settings, now)
    rules = {a.rule_key for a in db.scalars(select(Alert))}
    assert rules == {"no_sessions_14d"}  # no_login_7d (high, engagement) is inhibited
    assert counts["skipped"] == 1

    off = settings.model_copy(update={"alerts_inhibition": False})
    run(db, off, now + H)
    rules = {a.rule_key for a in db.scalars(select(Alert))}
    assert rules == {"no_sessions_14d", "no_login_7d"}


def test_lifecycle_records_actor_history_and_audit(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    churny(factory)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    service.transition(
        db, alert_id=alert.id, action="acknowledge", actor=COACH, now=now + H, note="calling"
    )
    assert alert.acknowledged_by == "user:coach@example.test"
    with pytest.raises(Conflict):
        service.transition(db, alert_id=alert.id, action="acknowledge", actor=COACH, now=now)
    service.transition(db, alert_id=alert.id, action="resolve", actor=COACH, now=now + 2 * H)
    service.transition(db, alert_id=alert.id, action="reopen", actor=COACH, now=now + 3 * H)
    assert alert.state == "open"
    assert alert.resolved_at is None
    events = db.scalars(select(AlertEvent).order_by(AlertEvent.id)).all()
    assert [(e.action, e.actor) for e in events[1:]] == [
        ("acknowledge", "user:coach@example.test"),
        ("resolve", "user:coach@example.test"),
        ("reopen", "user:coach@example.test"),
    ]
    assert events[1].note == "calling"
    audit = db.scalars(select(AuditLog).where(AuditLog.target_type == "alert")).all()
    assert [a.action for a in audit] == ["alert.acknowledge", "alert.resolve", "alert.reopen"]


def test_message_renders_zero_and_missing(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, days_since_last_login=7, logins_30d=0)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    assert alert.message == "Last login 7 days ago; 0 logins in the last 30 days."
    # churn_risk_level missing → "—", never "None"/"null".
    tutor2 = factory.tutor()
    factory.health(tutor2, local_day=TODAY, churn_probability=0.7, churn_risk_level=None)
    run(db, settings, now + H)
    churn = db.scalars(select(Alert).where(Alert.rule_key == "churn_risk_high")).one()
    assert churn.message == "Churn probability 70.0% (—) is at or above 40.0%."


def test_admin_edits_threshold_validated_and_audited(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    admin = Actor(kind="user", id=None, name="admin@example.test", role="admin")
    with pytest.raises(Invalid) as err:
        service.update_rule(
            db, key="churn_risk_high", changes={"resolve_threshold": 0.9}, actor=admin, now=now
        )
    assert err.value.details[0].field == "resolve_threshold"
    service.update_rule(
        db,
        key="churn_risk_high",
        changes={"threshold": 0.85, "resolve_threshold": 0.8},
        actor=admin,
        now=now,
    )
    churny(factory)  # probability 0.8: below the new threshold
    assert run(db, settings, now)["generated"] == 0
    assert db.scalars(select(AuditLog).where(AuditLog.action == "alert_rule.update")).one()


def test_incremental_run_only_reads_changed_tutors(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    from tutorpulse.core.models import JobRun

    churny(factory)
    first = service.run_generate(db, now=now, settings=settings)
    assert first.mode == "full"
    assert first.generated == 1
    db.add(
        JobRun(job_name=service.GENERATE_JOB, trigger="test", status="succeeded",
               started_at=now, counts=first.as_dict())
    )  # fmt: skip
    db.flush()
    quiet = service.run_generate(db, now=now + timedelta(minutes=1), settings=settings)
    assert quiet.mode == "incremental"
    assert quiet.evaluated == 0
    late = factory.tutor()
    factory.health(late, local_day=TODAY, churn_probability=0.9)
    late_row = factory.health(late)
    late_row.computed_at = now + timedelta(seconds=30)
    db.flush()
    changed = service.run_generate(db, now=now + timedelta(minutes=1), settings=settings)
    assert changed.mode == "incremental"
    assert changed.evaluated == 1
    assert changed.generated == 1


def test_alerts_of_a_tutor_who_churned_are_resolved_on_a_full_pass(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = churny(factory)
    run(db, settings, now)
    [alert] = db.scalars(select(Alert)).all()
    tutor.status = "churned"
    db.flush()
    counts = run(db, settings, now + H)
    db.refresh(alert)
    assert counts["resolved"] == 1
    assert alert.state == "resolved"
    assert alert.resolved_by == "system"
    note = db.scalars(select(AlertEvent.note).where(AlertEvent.action == "resolve")).one()
    assert note == "resolved by system: the tutor is no longer active"


def test_tutor_priority_is_stored_and_follows_the_alerts(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    from tutorpulse.alerts.rules import tutor_priority
    from tutorpulse.engagement.models import TutorHealth
    from tutorpulse.tutors import service as tutors_service

    hot = churny(factory)
    quiet = factory.tutor()
    factory.health(quiet, local_day=TODAY, sessions_30d=4, days_since_last_login=1)
    counts = run(db, settings, now)
    alerts = db.scalars(select(Alert).where(Alert.tutor_id == hot.id)).all()
    assert alerts, "the churny tutor raises at least one alert"
    expected = tutor_priority([a.priority for a in alerts])
    assert expected > 0
    assert counts["prioritiesChanged"] == 2  # hot: None → score; quiet: None → 0

    def stored(tutor: Any) -> float | None:
        health = db.get(TutorHealth, tutor.id)
        assert health is not None
        db.refresh(health)
        return health.priority_score

    assert stored(hot) == expected
    assert stored(quiet) == 0.0
    page = tutors_service.list_tutors(db, now=now, sort="priorityScore", order="desc", limit=2)
    assert [t.tutor_id for t in page.tutors] == [hot.external_id, quiet.external_id]
    assert page.tutors[0].priority_score == expected

    assert run(db, settings, now + H)["prioritiesChanged"] == 0  # nothing changed
    for alert in alerts:  # snoozed or resolved alerts ask for no attention
        service.transition(db, alert_id=alert.id, action="resolve", actor=COACH, now=now + H)
    assert stored(hot) == 0.0
    service.transition(db, alert_id=alerts[0].id, action="reopen", actor=COACH, now=now + 2 * H)
    assert stored(hot) == tutor_priority([alerts[0].priority])
