"""The incremental refresh after random ingests equals a from-scratch rebuild, on both engines."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tutorpulse.core.errors import Conflict
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.engagement import repository as engagement_repository
from tutorpulse.engagement import service as engagement_service
from tutorpulse.engagement.models import TutorHealth
from tutorpulse.sessions import service as sessions_service
from tutorpulse.tutors.models import Student, Tutor

START = datetime(2025, 3, 1, 12, tzinfo=UTC)
ZONES = [
    "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "UTC",
    "Europe/London", "America/Los_Angeles",
]  # fmt: skip
TYPES = ["login", "login", "login", "message_sent", "profile_updated", "session_scheduled"]
VOLATILE = {"as_of", "computed_at"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now_value = now

    def now(self) -> datetime:
        return self.now_value


def _settings() -> Settings:
    return Settings(_env_file=None, engagement_platform_refresh_seconds=0)  # type: ignore[call-arg]


def _snapshot(db: Session) -> dict[str, pd.DataFrame]:
    conn = db.connection()
    out = {}
    for table, key in (
        ("tutor_daily", ["tutor_id", "day"]),
        ("tutor_health", ["tutor_id"]),
        ("platform_daily", ["day"]),
        ("platform_weekly", ["week_start"]),
    ):
        frame = pd.read_sql(text(f"SELECT * FROM {table}"), conn)
        frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE], errors="ignore")
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype(str)
        out[table] = frame.sort_values(key).reset_index(drop=True)
    return out


def _seed(db: Session) -> tuple[list[str], list[str]]:
    tutors = []
    for i, zone in enumerate(ZONES):
        ext = f"T{i + 1:04d}"
        db.add(Tutor(external_id=ext, email=f"t{i}@example.test", name=f"T {i}", timezone=zone,
                     subjects=["Math"], primary_subject="Math", joined_on=date(2024, 12, 1)))  # fmt: skip
        tutors.append(ext)
    students = []
    for i in range(8):
        db.add(Student(external_id=f"S{i:03d}", grade_level="college", timezone="UTC"))
        students.append(f"S{i:03d}")
    db.flush()
    return tutors, students


def _session_item(
    rng: random.Random, sid: str, tutor: str, student: str, now: datetime
) -> dict[str, Any]:
    start = now - timedelta(days=rng.randint(-3, 50), hours=rng.randint(0, 23))
    status = (
        "scheduled"
        if start > now
        else rng.choice(
            [
                "completed",
                "completed",
                "completed",
                "tutor_no_show",
                "student_no_show",
                "cancelled",
                "rescheduled",
            ]
        )
    )
    item: dict[str, Any] = {
        "sessionId": sid, "tutorId": tutor, "studentId": student, "subject": "Math",
        "scheduledStart": start.isoformat(), "scheduledMinutes": 60, "status": status,
    }  # fmt: skip
    if status == "completed":
        item.update(
            studentRating=rng.randint(1, 5), engagementScore=round(rng.uniform(3, 10), 1),
            empathyScore=round(rng.uniform(3, 10), 1), clarityScore=round(rng.uniform(3, 10), 1),
            studentSatisfaction=rng.randint(1, 10), technicalIssue=rng.random() < 0.1,
            wouldRecommend=rng.random() < 0.8,
            actualStart=(start + timedelta(minutes=rng.randint(-2, 9))).isoformat(),
        )  # fmt: skip
    elif status == "cancelled":
        item["cancelledBy"] = rng.choice(["tutor", "student"])
    elif status == "rescheduled":
        item["rescheduledBy"] = rng.choice(["tutor", "student"])
    return item


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_refresh_equals_rebuild_after_random_ingests(db: Session, seed: int) -> None:
    rng = random.Random(seed)
    tutors, students = _seed(db)
    settings = _settings()
    clock = Clock(START)

    def factory() -> Session:
        return db

    sessions: list[str] = []
    for _step in range(160):
        op = rng.random()
        now = clock.now()
        if op < 0.45:
            stamp = now - timedelta(days=rng.randint(0, 45), minutes=rng.randint(0, 1440))
            key = rng.choice([None, None, f"k{rng.randint(0, 30)}"])
            # A key reused for another event is refused (409), by design.
            with contextlib.suppress(Conflict):
                engagement_service.record_event(
                    db, item=engagement_service.EventInput(rng.choice(tutors), rng.choice(TYPES),
                                                           None, stamp.isoformat(), key),
                    idempotency_key=None, now=now, settings=settings,
                )  # fmt: skip
        elif op < 0.55:
            items = [
                engagement_service.EventInput(rng.choice(tutors), rng.choice(TYPES), None,
                    (now - timedelta(hours=rng.randint(0, 400))).isoformat())
                for _ in range(rng.randint(1, 20))
            ]  # fmt: skip
            engagement_service.record_events(db, items=items, now=now, settings=settings)
        elif op < 0.85:
            if sessions and rng.random() < 0.4:
                sid = rng.choice(sessions)  # a status change or a move of an existing booking
            else:
                sid = f"X{len(sessions):05d}"
                sessions.append(sid)
            item = _session_item(rng, sid, rng.choice(tutors), rng.choice(students), now)
            sessions_service.record_sessions(db, items=[item], now=now, settings=settings)
        elif op < 0.95:
            refresh.run_refresh(factory, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
        else:
            clock.now_value = now + timedelta(hours=rng.randint(1, 30))
    refresh.run_refresh(factory, settings=settings, now_fn=clock.now, force_platform=True)  # type: ignore[arg-type]
    incremental = _snapshot(db)
    assert len(incremental["tutor_health"]) == len(tutors)
    assert incremental["tutor_daily"]["logins"].sum() > 0
    refresh.rebuild(factory, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    rebuilt = _snapshot(db)
    for table in incremental:
        pd.testing.assert_frame_equal(
            incremental[table], rebuilt[table], check_dtype=False, obj=table
        )


def test_a_new_event_reaches_health_on_the_next_refresh(db: Session) -> None:
    tutors, _ = _seed(db)
    settings = _settings()
    clock = Clock(START)
    refresh.rebuild(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    tutor_id = db.scalar(select(Tutor.id).where(Tutor.external_id == tutors[3]))
    before = db.get(TutorHealth, tutor_id)
    assert before is not None
    assert before.logins_7d == 0
    assert before.days_since_last_login is None
    engagement_service.record_event(
        db, item=engagement_service.EventInput(tutors[3], "login", None, None),
        idempotency_key=None, now=clock.now(), settings=settings,
    )  # fmt: skip
    result = refresh.run_refresh(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    assert result.tutors_rolled_up == 1
    db.expire_all()
    after = db.get(TutorHealth, tutor_id)
    assert after is not None
    assert (after.logins_7d, after.days_since_last_login, after.current_login_streak) == (1, 0, 1)
    assert result.remaining_dirty == 0


def test_day_rollover_recomputes_windows_without_new_data(db: Session) -> None:
    tutors, _ = _seed(db)
    settings = _settings()
    clock = Clock(START)
    engagement_service.record_event(
        db, item=engagement_service.EventInput(tutors[3], "login", None, None),
        idempotency_key=None, now=clock.now(), settings=settings,
    )  # fmt: skip
    refresh.run_refresh(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    clock.now_value = START + timedelta(days=8)
    result = refresh.run_refresh(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    assert result.tutors_day_rollover == len(tutors)
    db.expire_all()
    tutor_id = db.scalar(select(Tutor.id).where(Tutor.external_id == tutors[3]))
    health = db.get(TutorHealth, tutor_id)
    assert health is not None
    assert (health.logins_7d, health.logins_30d, health.days_since_last_login) == (0, 1, 8)
    assert health.current_login_streak == 0
    assert health.longest_login_streak == 1


def test_dirty_tutors_without_any_activity_get_a_health_row(db: Session) -> None:
    """New tutors (e.g. a tutors-only import) are marked dirty with no events or sessions:
    the refresh writes their (empty) health instead of failing on an empty frame."""
    tutors, _ = _seed(db)
    settings = _settings()
    ids = list(db.scalars(select(Tutor.id).where(Tutor.external_id.in_(tutors))))
    engagement_repository.mark_dirty(db, [(i, date(1970, 1, 1)) for i in ids], START)
    result = refresh.run_refresh(lambda: db, settings=settings, now_fn=lambda: START)  # type: ignore[arg-type]
    assert (result.tutors_rolled_up, result.remaining_dirty) == (len(ids), 0)
    db.expire_all()
    rows = [db.get(TutorHealth, i) for i in ids]
    assert all(r is not None and r.sessions_30d == 0 and r.logins_7d == 0 for r in rows)
    assert all(r is not None and r.first_active_on is None for r in rows)


def test_catch_up_rebuilds_when_most_tutors_are_marked_and_refreshes_otherwise(
    db: Session,
) -> None:
    """After an import: most tutors marked → a rebuild; a few → incremental passes with the
    platform totals computed once, at the end. Both leave what a rebuild leaves."""
    tutors, _ = _seed(db)
    settings = _settings()
    clock = Clock(START)
    for i, ext in enumerate(tutors):
        engagement_service.record_event(
            db, item=engagement_service.EventInput(ext, "login", None,
                                                    (START - timedelta(days=i)).isoformat()),
            idempotency_key=None, now=clock.now(), settings=settings,
        )  # fmt: skip
    mode, result = refresh.catch_up(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    assert (mode, result.tutors_rolled_up, result.remaining_dirty) == ("rebuild", len(tutors), 0)
    first = _snapshot(db)
    assert first["platform_daily"]["logins"].sum() == len(tutors)

    # One tutor of six marked: incremental, platform once at the end.
    engagement_service.record_event(
        db, item=engagement_service.EventInput(tutors[0], "login", None,
                                                (START - timedelta(days=2)).isoformat()),
        idempotency_key=None, now=clock.now(), settings=settings,
    )  # fmt: skip
    passes: list[refresh.RefreshResult] = []
    mode, result = refresh.catch_up(
        lambda: db,  # type: ignore[arg-type,return-value]
        settings=settings, now_fn=clock.now, on_pass=passes.append,
    )  # fmt: skip
    assert (mode, result.tutors_rolled_up, result.remaining_dirty) == ("refresh", 1, 0)
    assert passes
    assert all(p.platform_days == 0 for p in passes)
    assert result.platform_days > 0
    incremental = _snapshot(db)
    assert incremental["platform_daily"]["logins"].sum() == len(tutors) + 1
    refresh.rebuild(lambda: db, settings=settings, now_fn=clock.now)  # type: ignore[arg-type]
    rebuilt = _snapshot(db)
    for table in incremental:
        pd.testing.assert_frame_equal(
            incremental[table], rebuilt[table], check_dtype=False, obj=table
        )
