"""``analytics.warm`` stores every default view in ``analytics_snapshot`` (even on an
empty database), and is scheduled every five minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from tutorpulse.analytics import service, snapshot_repository, snapshots
from tutorpulse.analytics.jobs import warm
from tutorpulse.analytics.warm import default_views
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.jobs import JobContext, registered_jobs
from tutorpulse.core.settings import Settings
from tutorpulse.tutors.models import Tutor

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _context(engine: Engine, seconds: int) -> JobContext:
    settings = Settings(_env_file=None, analytics_cache_seconds=seconds)  # type: ignore[call-arg]
    return JobContext(
        session_factory=sessionmaker(engine),
        settings=settings,
        clock=FrozenClock(NOW),
        run_id=0,
        trigger="test",
    )


def test_warm_stores_every_default_view_and_is_scheduled(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    context = _context(fresh_engine, 300)
    result = warm(context)
    keys = set(default_views(context.settings, NOW))
    assert result["errors"] == {}
    assert set(result["seconds"]) == keys
    with sessionmaker(fresh_engine)() as db:
        rows = snapshot_repository.list_all(db)
    assert {key for key, _at, _s in rows} == keys
    assert all(at == NOW for _key, at, _s in rows)
    assert registered_jobs()["analytics.warm"].default_cron == "*/5 * * * *"
    assert warm(_context(fresh_engine, 0)) == {"skipped": "analytics cache disabled"}


def test_warm_stores_each_subjects_views_and_serves_them(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    factory = sessionmaker(fresh_engine)
    with factory() as db:
        for n, subject in enumerate(("Math", "Physics", "Math")):
            db.add(
                Tutor(external_id=f"T{n}", email=f"t{n}@x.test", name=f"T {n}", subjects=[subject],
                      primary_subject=subject, certification_level="basic",
                      joined_on=date(2026, 1, 5), status="active")
            )  # fmt: skip
        db.commit()
    context = _context(fresh_engine, 300)
    result = warm(context)
    assert result["errors"] == {}
    subject_keys = {k for k in result["seconds"] if ":subject=" in k}
    assert subject_keys == {
        "performers:subject=Math", "performers:subject=Physics",
        "first-sessions:subject=Math", "first-sessions:subject=Physics",
    }  # fmt: skip
    with factory() as db:
        stored = {key for key, _at, _s in snapshot_repository.list_all(db)}
        assert subject_keys <= stored
        # A subject request is served from its stored view: a marker written into the
        # stored payload comes back; another subject is computed live.
        payload = service.get_performers(
            db, settings=context.settings, now=NOW, subject="Math", limit=10, stored=False
        )
        payload["marker"] = "stored"
        snapshots.store(db, "performers:subject=Math", payload, computed_at=NOW, seconds=0.0)
        db.commit()
        served = service.get_performers(
            db, settings=context.settings, now=NOW, subject="Math", limit=10
        )
        assert served["marker"] == "stored"
        live = service.get_performers(
            db, settings=context.settings, now=NOW, subject="Chemistry", limit=10
        )
        assert "marker" not in live
