"""Ingested sessions → background refresh → alert, in one refresher pass (no scheduler)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tutorpulse.alerts.models import Alert
from tutorpulse.alerts.service import GENERATE_JOB as JOB
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory, unit_of_work
from tutorpulse.core.jobs import load_job_modules, run_job
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.engagement.refresher import Refresher
from tutorpulse.sessions import service as sessions_service
from tutorpulse.tutors.models import Student, Tutor

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _session(sid: str, days_ago: int, status: str, **extra: object) -> dict[str, object]:
    return {
        "sessionId": sid, "tutorId": "T0001", "studentId": "S0001", "subject": "Math",
        "scheduledStart": (NOW - timedelta(days=days_ago)).isoformat(), "scheduledMinutes": 60,
        "status": status, **extra,
    }  # fmt: skip


def test_tutor_reschedules_raise_an_alert_in_the_refresh_pass(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    factory = make_session_factory(fresh_engine)
    settings = Settings(_env_file=None, engagement_refresh_delay_seconds=0)  # type: ignore[call-arg]
    with unit_of_work(factory) as db:
        db.add(Tutor(external_id="T0001", email="t@example.test", name="T", timezone="UTC",
                     subjects=["Math"], primary_subject="Math", joined_on=date(2024, 1, 1),
                     last_login_at=NOW - timedelta(hours=5)))  # fmt: skip
        # Qualifies for no_login_7d, but nothing about it changes below.
        db.add(Tutor(external_id="T0002", email="u@example.test", name="U", timezone="UTC",
                     subjects=["Math"], primary_subject="Math", joined_on=date(2024, 1, 1),
                     last_login_at=NOW - timedelta(days=30)))  # fmt: skip
        db.add(Student(external_id="S0001", grade_level="college"))
    with unit_of_work(factory) as db:
        done = [_session(f"X{i}", i + 1, "completed", studentRating=5) for i in range(5)]
        sessions_service.record_sessions(db, items=done, now=NOW, settings=settings)
    refresh.rebuild(factory, settings=settings, now_fn=lambda: NOW)
    # A minute after the rebuild: what this pass recomputes is newer than the rest.
    later = FrozenClock(NOW + timedelta(minutes=1))
    refresher = Refresher(factory, settings, later)
    with Session(fresh_engine) as db:
        assert db.scalars(select(Alert.rule_key)).all() == []

    with unit_of_work(factory) as db:
        moved = [_session(f"R{i}", i + 1, "rescheduled", rescheduledBy="tutor") for i in range(3)]
        sessions_service.record_sessions(db, items=moved, now=NOW, settings=settings)
    refresher._run_once()  # what the thread does a moment after the write

    with Session(fresh_engine) as db:
        alerts = db.scalars(select(Alert).where(Alert.state == "open")).all()
    # The follow-up looked at the refreshed tutor only: no full pass from the refresher.
    assert [a.rule_key for a in alerts] == ["high_reschedule_rate"]

    # The scheduled job's full pass then finds the unchanged tutor too.
    load_job_modules()
    run_job(JOB, session_factory=factory, settings=settings, clock=later, trigger="test")
    with Session(fresh_engine) as db:
        fired = set(
            db.execute(
                select(Tutor.external_id, Alert.rule_key).join(Tutor, Tutor.id == Alert.tutor_id)
            ).all()
        )
    assert ("T0002", "no_login_7d") in fired
    assert ("T0001", "high_reschedule_rate") in fired
