"""Analytics jobs. Shared by both analytics halves: add jobs here, keep others' intact.

``analytics.warm`` computes the default view of every analytics endpoint (performers,
first sessions, reliability, the heatmaps, and the trends views in
``trends_service.STORED_VIEWS``) and stores it in ``analytics_snapshot``, and
rebuilds the trend and heatmap cubes that other trend and heatmap requests are
summed from; requests for those views, in any process, are served from the stored
results while they are at most two refresh intervals
(``TUTORPULSE_ANALYTICS_CACHE_SECONDS``, 300 s) old. Runs
every five minutes by default, matching that interval.
"""

from __future__ import annotations

from typing import Any

from tutorpulse.analytics.warm import warm_all
from tutorpulse.core.jobs import JobContext, job


@job(
    "analytics.warm",
    description=(
        "Compute and store the default analytics views (performers, first sessions, "
        "reliability, heatmaps, trends and retention) that requests are served from."
    ),
    default_cron="*/5 * * * *",
    lock_ttl_seconds=1800,
)
def warm(context: JobContext) -> dict[str, Any]:
    settings = context.settings
    if settings.analytics_cache_seconds <= 0:
        return {"skipped": "analytics cache disabled"}
    return warm_all(context.session_factory, settings=settings, now=context.clock.now())
