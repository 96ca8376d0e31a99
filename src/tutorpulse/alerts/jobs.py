"""Alert jobs: ``alerts.generate`` every minute (cheap when nothing changed) and
``alerts.backtest`` on demand (the rules page shows its last report)."""

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
        prepared = service.prepare_generate(
            db, now=now, settings=context.settings, changed_since=context.changed_since
        )
    with unit_of_work(context.session_factory, write=True) as db:
        result = service.apply_prepared(db, prepared, now=now, settings=context.settings)
    return result.as_dict()


@job(
    service.BACKTEST_JOB,
    description="Backtest the stored alert rules over the ALERTS_BACKTEST_DAYS days ending "
    "60 days ago (every ALERTS_BACKTEST_STEP_DAYS days): churners caught with 14 days' lead, "
    "median lead, precision, alerts per coach-week. The report is shown on /alerts/rules.",
    lock_ttl_seconds=600,
)
def backtest_job(context: JobContext) -> dict[str, Any]:
    start, end = service.backtest_window(context.clock.now(), context.settings)
    with unit_of_work(context.session_factory) as db:
        return service.backtest(
            db,
            start=start,
            end=end,
            settings=context.settings,
            step_days=context.settings.alerts_backtest_step_days,
        )
