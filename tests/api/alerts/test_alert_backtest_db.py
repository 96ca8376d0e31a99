"""Backtest on a hand-made history: a churner caught with lead time, a steady tutor never."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorDaily
from tutorpulse.risk import repository as risk_repo
from tutorpulse.risk.models import ChurnScoreDaily


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


def test_backtest_reads_the_churn_scores_stored_on_each_day(
    db: Session, factory: Any, settings: Settings
) -> None:
    churner = factory.tutor(
        joined_on=date(2024, 11, 1),
        status="churned",
        churned_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
    )
    steady = factory.tutor(joined_on=date(2024, 11, 1))
    for tutor in (churner, steady):
        for d in days(date(2024, 12, 1), date(2025, 2, 10)):
            db.add(TutorDaily(tutor_id=tutor.id, day=d, logins=1, sessions_completed=1))
    scored = datetime(2025, 1, 30, 9, tzinfo=UTC)

    def score(tutor: Any, day: date, p: float) -> None:
        level = "High" if p >= 0.4 else "Low"
        db.add(ChurnScoreDaily(tutor_id=tutor.id, day=day, churn_probability=p,
                               churn_risk_level=level, scored_at=scored))  # fmt: skip

    score(churner, date(2025, 1, 30), 0.55)  # known 30 Jan – 5 Feb (7 days)
    score(steady, date(2025, 1, 30), 0.39)  # below the threshold
    score(steady, date(2025, 2, 20), 0.9)  # stored after the window: not known in it
    db.flush()
    report = service.backtest(
        db, start=date(2025, 1, 25), end=date(2025, 2, 10), settings=settings, coaches=1
    )
    churn = report["rules"]["churn_risk_high"]
    assert (churn["alerts"], churn["tutorsAlerted"], churn["caught"]) == (1, 1, 1)
    # First firing day 30 Jan, churned 1 Mar: 30 days' lead.
    assert churn["medianLeadDays"] == 30.0
    assert churn["precision"] == 1.0
    # 30 Jan – 5 Feb of the 17 evaluated days had a score.
    assert report["daysWithChurnScores"] == 7
    assert report["rules"]["upcoming_noshow_risk"]["alerts"] == 0


def test_scoring_keeps_one_churn_score_per_tutor_and_day(db: Session, factory: Any) -> None:
    a, b = factory.tutor(), factory.tutor()
    now = datetime(2025, 3, 1, 10, tzinfo=UTC)

    def rows(p: float) -> list[dict[str, Any]]:
        return [{"tid": t.id, "p": p, "level": "Low", "version": 1} for t in (a, b)]

    old = ChurnScoreDaily(tutor_id=a.id, day=date(2024, 1, 1), churn_probability=0.1,
                          churn_risk_level="Low", scored_at=now)  # fmt: skip
    db.add(old)
    db.flush()
    assert risk_repo.record_churn_history(db, rows=rows(0.2), now=now, keep_days=30) == 2
    # A later run the same day replaces that day's scores; the 2024 row is past retention.
    later = now + timedelta(hours=5)
    assert risk_repo.record_churn_history(db, rows=rows(0.3), now=later, keep_days=30) == 2
    stored = db.execute(select(ChurnScoreDaily.day, ChurnScoreDaily.churn_probability)).all()
    assert sorted(stored) == [(date(2025, 3, 1), 0.3), (date(2025, 3, 1), 0.3)]
    assert risk_repo.record_churn_history(db, rows=rows(0.3), now=later, keep_days=0) == 0
    assert db.execute(select(ChurnScoreDaily)).first() is None
