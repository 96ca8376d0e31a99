"""Engagement jobs: the incremental refresh (every minute) and the full rebuild."""

from __future__ import annotations

from typing import Any

from tutorpulse.core.jobs import JobContext, job
from tutorpulse.engagement import refresh


@job(
    "engagement.refresh",
    description="Recompute rollups and health of tutors with new data or a new local day; "
    "then the platform totals when due.",
    default_cron="* * * * *",
    lock_ttl_seconds=300,
)
def refresh_job(context: JobContext) -> dict[str, Any]:
    result = refresh.run_refresh(
        context.session_factory, settings=context.settings, now_fn=context.clock.now
    )
    return result.as_dict()


@job(
    "engagement.rebuild",
    description="Recompute every tutor's rollups and health and all platform totals from "
    "the raw rows (gives the same result as the incremental refresh).",
    lock_ttl_seconds=7200,
)
def rebuild_job(context: JobContext) -> dict[str, Any]:
    result = refresh.rebuild(
        context.session_factory, settings=context.settings, now_fn=context.clock.now
    )
    return result.as_dict()
