"""Each rule fires, does not fire at its boundary, and resolves with hysteresis (both engines)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.alerts.models import Alert, AlertEvent, AlertRule
from tutorpulse.alerts.rules import load_default_rules
from tutorpulse.core.audit import Actor
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorDaily
from tutorpulse.risk.models import SessionRisk

H = timedelta(hours=1)
TODAY = date(2025, 3, 1)

# rule: (fires, at the boundary (does not fire), inside the band (stays open), clear)
HEALTH_CASES: dict[str, tuple[dict[str, Any], ...]] = {
    "churn_risk_high": (
        {"churn_probability": 0.4, "churn_risk_level": "High"},
        {"churn_probability": 0.39},
        {"churn_probability": 0.31},
        {"churn_probability": 0.29},
    ),
    "low_rating_trend": (
        {"avg_rating_7d": 3.4, "sessions_7d": 3},
        {"avg_rating_7d": 3.5, "sessions_7d": 3},
        {"avg_rating_7d": 3.6, "sessions_7d": 3},
        {"avg_rating_7d": 3.8, "sessions_7d": 3},
    ),
    "no_login_7d": (
        {"days_since_last_login": 7},
        {"days_since_last_login": 6},
        {"days_since_last_login": 7},
        {"days_since_last_login": 0},
    ),
    "low_engagement": (
        {"avg_engagement": 5.9, "sessions_total": 5},
        {"avg_engagement": 6.0, "sessions_total": 5},
        {"avg_engagement": 6.1, "sessions_total": 5},
        {"avg_engagement": 6.4, "sessions_total": 5},
    ),
    "poor_first_session": (
        {"poor_first_session_flag": True, "first_session_count": 2, "first_session_avg_rating": 2},
        {"poor_first_session_flag": False, "first_session_count": 2},
        {"poor_first_session_flag": True},
        {"poor_first_session_flag": False},
    ),
    "high_reschedule_rate": (
        {"reschedule_rate_tutor_30d": 0.16, "sessions_30d": 10},
        {"reschedule_rate_tutor_30d": 0.15, "sessions_30d": 10},
        {"reschedule_rate_tutor_30d": 0.12, "sessions_30d": 10},
        {"reschedule_rate_tutor_30d": 0.09, "sessions_30d": 10},
    ),
    "technical_issues_spike": (
        {"technical_issue_rate": 0.16, "sessions_30d": 10},
        {"technical_issue_rate": 0.15, "sessions_30d": 10},
        {"technical_issue_rate": 0.12, "sessions_30d": 10},
        {"technical_issue_rate": 0.09, "sessions_30d": 10},
    ),
}


def run(db: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    return service.generate(db, now=now, settings=settings).as_dict()


def alerts(db: Session, rule: str | None = None) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    if rule:
        query = query.where(Alert.rule_key == rule)
    return list(db.scalars(query))


def rule_of(db: Session, key: str) -> Any:
    return next(r for r in service.list_rules(db) if r.key == key)


@pytest.mark.parametrize("key", sorted(HEALTH_CASES))
def test_health_rule_fires_boundary_and_hysteresis(
    key: str, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    fires, boundary, band, clear = HEALTH_CASES[key]
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, **boundary)
    run(db, settings, now)
    assert alerts(db, key) == []

    factory.health(tutor, **fires)
    counts = run(db, settings, now)
    assert counts["generated"] == 1
    [alert] = alerts(db, key)
    assert alert.state == "open"
    assert alert.tutor_id == tutor.id
    assert "None" not in alert.message
    assert "null" not in alert.message
    assert "{" not in alert.message

    # Inside the hysteresis band: still open, not counting towards resolution.
    factory.health(tutor, **band)
    run(db, settings, now + H)
    db.refresh(alert)
    assert alert.state == "open"
    assert alert.condition_cleared_at is None

    factory.health(tutor, **clear)
    hold = rule_of(db, key).resolve_after_hours
    run(db, settings, now + 2 * H)
    db.refresh(alert)
    if hold:
        assert alert.state == "open"
        assert alert.condition_cleared_at == now + 2 * H
        run(db, settings, now + 2 * H + timedelta(hours=hold) - H)
        db.refresh(alert)
        assert alert.state == "open"
        run(db, settings, now + 2 * H + timedelta(hours=hold))
        db.refresh(alert)
    assert alert.state == "resolved"
    assert alert.resolved_by == "system"
    events = db.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id)).all()
    assert [e.action for e in events] == ["created", "resolve"]
    assert events[-1].note is not None
    assert "resolved by system" in events[-1].note


def test_null_churn_probability_never_fires(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, churn_probability=None, days_since_last_login=None)
    run(db, settings, now)
    assert alerts(db) == []


def daily(db: Session, tutor_id: int, day: date, **fields: Any) -> None:
    db.add(TutorDaily(tutor_id=tutor_id, day=day, **fields))
    db.flush()


def test_no_sessions_14d_is_really_14_days(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    quiet, recent = factory.tutor(), factory.tutor()
    for tutor, days_ago in ((quiet, 14), (recent, 13)):
        last = TODAY - timedelta(days=days_ago)
        factory.health(tutor, local_day=TODAY, sessions_30d=1, last_completed_on=last)
    run(db, settings, now)
    [alert] = alerts(db, "no_sessions_14d")
    assert alert.tutor_id == quiet.id
    assert alert.message.startswith("No completed session for 14 days (last on 2025-02-15)")
    # A completed session (the refresh moves the health's last day) clears it at once.
    factory.health(quiet, last_completed_on=TODAY)
    run(db, settings, now + H)
    db.refresh(alert)
    assert alert.state == "resolved"


def test_login_decline_against_own_baseline(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    declining, steady = factory.tutor(), factory.tutor()
    for tutor in (declining, steady):
        factory.health(tutor, local_day=TODAY)
        for k in range(14, 70, 2):  # 28 login days in the 56-day baseline: 7 expected per 14
            daily(db, tutor.id, TODAY - timedelta(days=k), logins=1)
    daily(db, declining.id, TODAY - timedelta(days=1), logins=3)  # 3 < 0.5 × 7
    daily(db, steady.id, TODAY - timedelta(days=1), logins=4)  # 4 ≥ 3.5: boundary, no alert
    run(db, settings, now)
    [alert] = alerts(db, "login_decline")
    assert alert.tutor_id == declining.id
    assert alert.message.startswith("3 logins in the last 14 days against 7.00 expected")


def test_declining_engagement_needs_a_significant_negative_slope(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    falling, noisy = factory.tutor(), factory.tutor()
    falling_scores = [9.0, 8.6, 8.1, 7.9, 7.2, 6.8, 6.5, 6.0]
    noisy_scores = [8.0, 6.0, 8.5, 6.2, 7.9, 6.1, 8.2, 6.3]
    for tutor, scores in ((falling, falling_scores), (noisy, noisy_scores)):
        factory.health(tutor, local_day=TODAY, sessions_30d=len(scores), sessions_total=8)
        for i, score in enumerate(scores):
            factory.session(tutor, now - timedelta(days=20 - 2 * i), engagement_score=score)
    run(db, settings, now)
    [alert] = alerts(db, "declining_engagement")
    assert alert.tutor_id == falling.id
    assert alert.metric_value is not None
    assert alert.metric_value < 0
    assert alert.evidence["values"]["engagement_slope_p"] < 0.05


def test_first_session_scheduled_only_within_48h(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    soon, later = factory.tutor(), factory.tutor()
    for tutor in (soon, later):
        factory.health(tutor, local_day=TODAY)
    factory.session(soon, now + 47 * H, status="scheduled", is_first_session=True)
    factory.session(later, now + 49 * H, status="scheduled", is_first_session=True)
    factory.session(later, now + 5 * H, status="scheduled", is_first_session=False)
    run(db, settings, now)
    [alert] = alerts(db, "first_session_scheduled")
    assert alert.tutor_id == soon.id
    assert "1 first session(s)" in alert.message
    assert "2025-03-02 23:00 UTC" in alert.message


def test_upcoming_noshow_risk_counts_high_sessions_in_72h(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    risky, medium, later = factory.tutor(), factory.tutor(), factory.tutor()
    cases = ((risky, 0.09, "High", 24), (risky, 0.07, "High", 71), (risky, 0.2, "High", 73),
             (medium, 0.03, "Medium", 24), (later, 0.2, "High", 72))  # fmt: skip
    for tutor in (risky, medium, later):
        factory.health(tutor, local_day=TODAY)
    for tutor, p, level, hours in cases:
        s = factory.session(tutor, now + hours * H, status="scheduled")
        db.add(SessionRisk(session_id=s.id, no_show_probability=p, risk_level=level))
    db.flush()
    run(db, settings, now)
    [alert] = alerts(db, "upcoming_noshow_risk")
    assert alert.tutor_id == risky.id
    assert alert.metric_value == 2  # the session 73 h ahead is outside the window
    assert alert.message.startswith("2 session(s) in the next 72 hours rated High")
    assert "highest probability 9.0%" in alert.message
    # Once the risky sessions are no longer ahead, the count is 0 and the alert resolves.
    run(db, settings, now + 74 * H)
    db.refresh(alert)
    assert alert.state == "resolved"


def test_unedited_rules_follow_changed_shipped_defaults(
    db: Session, settings: Settings, now: datetime
) -> None:
    shipped = {r.key: r for r in load_default_rules()}
    rows = {r.key: r for r in service.ensure_rules(db)}
    # An admin's edit of another rule.
    admin = Actor(kind="user", id=None, name="admin@example.test", role="admin")
    service.update_rule(
        db, key="low_rating_trend", changes={"threshold": 3.2, "resolve_threshold": 3.4},
        actor=admin, now=now,
    )  # fmt: skip
    # As stored by an older release whose defaults differed (never edited by an admin).
    old = rows["technical_issues_spike"]
    old.params = {**old.params, "threshold": 0.3, "resolve_threshold": 0.2}
    old.cooldown_hours = 12
    db.flush()
    later = now + H
    service.ensure_rules(db, now=later)
    rules = {r.key: r for r in service.list_rules(db)}
    assert rules["technical_issues_spike"] == shipped["technical_issues_spike"]
    assert db.get(AlertRule, "technical_issues_spike").updated_at == later
    edited = rules["low_rating_trend"]
    assert (edited.threshold, edited.resolve_threshold) == (3.2, 3.4)
    assert edited != shipped["low_rating_trend"]
    # Nothing else was touched: every other rule is exactly as shipped.
    for key in set(shipped) - {"low_rating_trend"}:
        assert rules[key] == shipped[key]


def test_evidence_trend_daily_mean_has_gaps_not_zeros(
    db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, avg_rating_7d=3.0, sessions_7d=3)
    daily(db, tutor.id, TODAY - timedelta(days=1), rating_sum=9, rating_count=3)
    daily(db, tutor.id, TODAY - timedelta(days=2), logins=2)  # a day without ratings
    run(db, settings, now)
    [alert] = alerts(db, "low_rating_trend")
    detail = service.get_alert_detail(db, alert_id=alert.id, now=now)
    assert detail.trend is not None
    assert detail.trend.label == "Average student rating per day"
    values = {p.day: p.value for p in detail.trend.points}
    assert len(values) == 30
    assert values[TODAY - timedelta(days=1)] == 3.0
    assert values[TODAY - timedelta(days=2)] is None
    assert values[TODAY] is None
