"""Alert jobs: ``alerts.generate`` every minute (cheap when nothing changed)."""

from __future__ import annotations

from typing import Any

from tutorpulse.alerts import service
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import JobContext, job


@job(
    service.GENERATE_JOB,
    description="Evaluate the alert rules: every active tutor on a full pass (every "
    "ALERTS_FULL_PASS_MINUTES), otherwise only tutors whose health or session risk changed; "
    "create, update, inhibit and auto-resolve alerts.",
    default_cron="* * * * *",
    lock_ttl_seconds=600,
)
def generate_job(context: JobContext) -> dict[str, Any]:
    now = context.clock.now()
    # Seeding default rules writes: do it in a write transaction of its own, so the
    # read phase below never has to upgrade to a writer (SQLite refuses that under load).
    with unit_of_work(context.session_factory, write=True) as db:
        service.ensure_rules(db, now=now)
    # Read and evaluate outside the write transaction (SQLite: ingestion is not blocked).
    with unit_of_work(context.session_factory) as db:
        prepared = service.prepare_generate(db, now=now, settings=context.settings)
    with unit_of_work(context.session_factory, write=True) as db:
        result = service.apply_prepared(db, prepared, now=now, settings=context.settings)
    return result.as_dict()
