"""A refresh pass takes the marks made before it started; later ones wait for the next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.core.db import make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.engagement import service as engagement_service
from tutorpulse.engagement.models import TutorDirty, TutorHealth
from tutorpulse.tutors.models import Tutor

NOW = datetime(2026, 2, 10, 9, tzinfo=UTC)


def test_a_pass_leaves_marks_made_after_it_started_for_the_next(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    factory = make_session_factory(fresh_engine)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with unit_of_work(factory) as db:
        for ext in ("T0001", "T0002"):
            db.add(Tutor(external_id=ext, email=f"{ext}@example.test", name=ext, timezone="UTC",
                         subjects=["Math"], primary_subject="Math", joined_on=date(2025, 1, 1)))  # fmt: skip
    refresh.rebuild(factory, settings=settings, now_fn=lambda: NOW)

    def login(tutor: str, at: datetime) -> None:
        with unit_of_work(factory, write=True) as db:
            item = engagement_service.EventInput(tutor, "login", timestamp=at.isoformat())
            engagement_service.record_events(db, items=[item], now=at, settings=settings)

    login("T0001", NOW + timedelta(minutes=1))
    login("T0002", NOW + timedelta(minutes=3))  # arrives while the first pass runs

    first = refresh.run_refresh(
        factory, settings=settings, now_fn=lambda: NOW + timedelta(minutes=2)
    )
    assert first.tutors_rolled_up == 1
    assert first.remaining_dirty == 1
    with Session(fresh_engine) as db:
        left = db.execute(select(Tutor.external_id).join(TutorDirty)).scalars().all()
        logins = dict(
            db.execute(select(Tutor.external_id, TutorHealth.logins_7d).join(TutorHealth)).all()
        )
    assert left == ["T0002"]
    assert logins == {"T0001": 1, "T0002": 0}

    second = refresh.run_refresh(
        factory, settings=settings, now_fn=lambda: NOW + timedelta(minutes=4)
    )
    assert second.tutors_rolled_up == 1
    assert second.remaining_dirty == 0
    with Session(fresh_engine) as db:
        logins = dict(
            db.execute(select(Tutor.external_id, TutorHealth.logins_7d).join(TutorHealth)).all()
        )
    assert logins == {"T0001": 1, "T0002": 1}
