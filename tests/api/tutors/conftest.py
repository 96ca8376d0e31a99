"""A small hand-made marketplace whose dashboard figures are computed by hand in the tests.

``NOW`` is 2025-03-01 00:00 UTC. Times are offset by whole hours from day
boundaries so each row falls clearly inside one 24-hour bucket.

| tutor | status | subject | joined | notes |
|---|---|---|---|---|
| T0001 Ann Alvarez | active | Math | 2024-01-01 | busy; a no-show; first sessions rated 5 and 2 (mean 3.5) |
| T0002 Ben Brooks | active | Science | 2024-06-01 | one first session rated 2 (poor) |
| T0003 Cara Chen | paused | Math | 2025-02-25 | joined 4 days ago |
| T0004 Dan Diaz | churned 2025-02-26 12:00 | English | 2024-01-01 | |
| T0005 Eve Evans | active | English | 2024-01-01 | only a login |
| T0006 Fay Fox | active | History | 2025-02-27 | nothing yet |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.tutors.models import Tutor

H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass
class World:
    now: datetime
    tutors: dict[str, Tutor]


@pytest.fixture
def world(factory: Any, now: datetime) -> World:
    f = factory
    t1 = f.tutor("T0001", name="Ann Alvarez", email="ann@example.test", certification_level="basic")
    t2 = f.tutor(
        "T0002",
        name="Ben Brooks",
        email="ben@example.test",
        subjects=["Science", "Math"],
        primary_subject="Science",
        certification_level="advanced",
        joined_on=date(2024, 6, 1),
    )
    t3 = f.tutor(
        "T0003",
        name="Cara Chen",
        email="cara@example.test",
        status="paused",
        certification_level="expert",
        joined_on=date(2025, 2, 25),
    )
    t4 = f.tutor(
        "T0004",
        name="Dan Diaz",
        email="dan@example.test",
        subjects=["English"],
        primary_subject="English",
        status="churned",
        churned_at=datetime(2025, 2, 26, 12, tzinfo=UTC),
    )
    t5 = f.tutor(
        "T0005",
        name="Eve Evans",
        email="eve@example.test",
        subjects=["English"],
        primary_subject="English",
        last_login_at=now - 3 * D + 2 * H,
    )
    t6 = f.tutor(
        "T0006",
        name="Fay Fox",
        email="fay@example.test",
        subjects=["History"],
        primary_subject="History",
        joined_on=date(2025, 2, 27),
    )
    # T0001
    f.session(t1, now - D + 2 * H, is_first_session=True, student_rating=5, engagement_score=8.0)
    f.session(t1, now - 2 * D + 3 * H, student_rating=4, engagement_score=6.0)
    f.session(t1, now - 3 * D + H, "tutor_no_show")
    f.session(t1, now - 10 * D + H, student_rating=3, engagement_score=7.0)
    f.session(t1, now - 10 * D + 2 * H, "rescheduled", rescheduled_by="tutor")
    f.session(t1, now - 40 * D + H, is_first_session=True, student_rating=2, engagement_score=9.0)
    f.session(t1, now + 2 * D, "scheduled")
    # T0002
    f.session(t2, now - 5 * D + H, is_first_session=True, student_rating=2, engagement_score=5.0)
    f.session(t2, now - 5 * D + 2 * H, "cancelled", cancelled_by="student")
    f.session(t2, now - 12 * D + H, student_rating=3)
    f.session(t2, now - 20 * D + H, "student_no_show")
    f.session(t2, now - 6 * D + H, "scheduled")  # outcome never recorded
    # T0003, T0004
    f.session(t3, now - D + 5 * H, student_rating=4, engagement_score=10.0)
    f.session(t4, now - 8 * D + H, student_rating=5, engagement_score=4.0)
    # Events
    f.event(t5, now - 3 * D + 2 * H, "login")
    f.event(t4, now - 9 * D + H, "login")
    f.event(t1, now - 2 * D + 5 * H, "login")
    f.event(t2, now - D + 3 * H, "profile_updated")
    # The overview reads the engagement rollups: build them as the refresh job would.
    refresh.rebuild(lambda: f.db, settings=Settings(_env_file=None), now_fn=lambda: now)  # type: ignore[arg-type, call-arg]
    return World(now=now, tutors={t.external_id: t for t in (t1, t2, t3, t4, t5, t6)})
