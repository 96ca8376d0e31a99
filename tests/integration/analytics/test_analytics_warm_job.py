"""``analytics.warm`` fills the in-process cache with the four default views."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from tutorpulse.analytics import cache
from tutorpulse.analytics.jobs import warm
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.jobs import JobContext, registered_jobs
from tutorpulse.core.settings import Settings


def _context(engine: Engine, seconds: int) -> JobContext:
    settings = Settings(_env_file=None, analytics_cache_seconds=seconds)  # type: ignore[call-arg]
    return JobContext(
        session_factory=sessionmaker(engine),
        settings=settings,
        clock=FrozenClock(datetime(2026, 6, 1, tzinfo=UTC)),
        run_id=0,
        trigger="test",
    )


def test_warm_fills_the_cache_and_is_scheduled(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    cache.clear()
    try:
        result = warm(_context(fresh_engine, 300))
        assert set(result["seconds"]) == {"performers", "first-sessions", "reliability", "heatmap"}
        kinds = {key[1][0] for key in cache._entries}
        assert {"performers", "first-sessions", "reliability", "heatmap"} <= kinds
        assert registered_jobs()["analytics.warm"].default_cron == "*/5 * * * *"
        assert warm(_context(fresh_engine, 0)) == {"skipped": "analytics cache disabled"}
    finally:
        cache.clear()
