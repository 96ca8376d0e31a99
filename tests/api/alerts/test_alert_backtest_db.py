"""Backtest on a hand-made history: a churner caught with lead time, a steady tutor never."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorDaily


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_backtest_lead_time_and_precision(db: Session, factory: Any, settings: Settings) -> None:
    churner = factory.tutor(
        joined_on=date(2024, 11, 1),
        status="churned",
        churned_at=datetime(2025, 2, 20, 12, tzinfo=UTC),
    )
    steady = factory.tutor(joined_on=date(2024, 11, 1))
    for d in days(date(2024, 12, 1), date(2025, 1, 20)):
        db.add(TutorDaily(tutor_id=churner.id, day=d, logins=1, sessions_completed=1))
    for d in days(date(2024, 12, 1), date(2025, 2, 28)):
        db.add(TutorDaily(tutor_id=steady.id, day=d, logins=1, sessions_completed=1))
    db.flush()
    report = service.backtest(
        db, start=date(2025, 1, 25), end=date(2025, 2, 10), settings=settings, coaches=2
    )
    assert report["churnersInWindow"] == 1
    no_login = report["rules"]["no_login_7d"]
    # Last login 2025-01-20 → fires from 2025-01-27 (7 days), 24 days before churning.
    assert no_login["alerts"] == 1
    assert no_login["tutorsAlerted"] == 1
    assert no_login["caught"] == 1
    assert no_login["caughtShare"] == 1.0
    assert no_login["medianLeadDays"] == 24.0
    assert no_login["precision"] == 1.0
    # One episode over 17 days (≈ 2.43 weeks) shared by two coaches.
    assert no_login["alertsPerCoachWeek"] == round(1 / 2 / (17 / 7), 2)
    # A 14-day session gap is reached on 2025-02-03, 17 days before churn.
    assert report["rules"]["no_sessions_14d"]["medianLeadDays"] == 17.0
    assert report["rules"]["overall"]["caught"] == 1
