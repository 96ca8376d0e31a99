"""Analytics jobs. Shared by both analytics halves: add jobs here, keep others' intact.

``analytics.warm`` (performers / first sessions / reliability / heatmap half) fills the
in-process result cache with the default views, so dashboard requests within the
cache lifetime are served from memory. It only helps the process that runs it: the
embedded scheduler of ``tutorpulse serve``. Every five minutes by default, which with
the default ``TUTORPULSE_ANALYTICS_CACHE_SECONDS`` (300) renews each entry just after
its cache bucket starts.
"""

from __future__ import annotations

import time
from typing import Any

from tutorpulse.analytics import service
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import JobContext, job


@job(
    "analytics.warm",
    description=(
        "Compute the default star-performer, first-session, reliability and heatmap views "
        "into the in-process analytics cache (useful inside `tutorpulse serve`)."
    ),
    default_cron="*/5 * * * *",
    lock_ttl_seconds=900,
)
def warm(context: JobContext) -> dict[str, Any]:
    settings, now = context.settings, context.clock.now()
    if settings.analytics_cache_seconds <= 0:
        return {"skipped": "analytics cache disabled"}
    seconds: dict[str, float] = {}
    with unit_of_work(context.session_factory) as db:
        for name, fn in (
            ("performers", lambda: service.get_performers(
                db, settings=settings, now=now, subject=None, limit=50)),
            ("first-sessions", lambda: service.get_first_sessions(
                db, settings=settings, now=now, subject=None)),
            ("reliability", lambda: service.get_reliability(
                db, settings=settings, now=now, threshold=0.15, days_ahead=7, limit=50)),
            ("heatmap", lambda: service.get_heatmap(
                db, settings=settings, now=now, metric_type="engagement", days=30,
                tutor_external_id=None)),
        ):  # fmt: skip
            t0 = time.perf_counter()
            fn()
            seconds[name] = round(time.perf_counter() - t0, 3)
    return {"seconds": seconds}
