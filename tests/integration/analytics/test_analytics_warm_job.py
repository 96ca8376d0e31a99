"""``analytics.warm`` stores every default view in ``analytics_snapshot`` (even on an
empty database), and is scheduled every five minutes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from tutorpulse.analytics import snapshot_repository
from tutorpulse.analytics.jobs import warm
from tutorpulse.analytics.warm import default_views
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.jobs import JobContext, registered_jobs
from tutorpulse.core.settings import Settings

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
