"""``core.prune``: the platform's housekeeping job.

Deletes dashboard sessions that expired or were revoked, releases job locks
whose holder died (marking that holder's runs failed), marks runs that were left
"running" by a process that died before it took its lock, and deletes job runs
older than the retention period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from tutorpulse.core import jobs_lock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import JobContext, job
from tutorpulse.core.models import JobLock, JobRun, WebSession

# A run is created a moment before it takes its lock; one this old without a lock
# row of its own was left behind by a process that died in between.
ORPHAN_GRACE = timedelta(minutes=10)


def _retention_days(context: JobContext) -> int:
    days = context.settings.job_run_retention_days
    return max(1, int(days))


def prune_web_sessions(db: Session, *, now: datetime) -> int:
    result = db.execute(
        delete(WebSession)
        .where(or_(WebSession.expires_at <= now, WebSession.revoked_at.is_not(None)))
        .execution_options(synchronize_session=False)
    )
    return jobs_lock.rowcount(result)


def release_stale_locks(db: Session, *, now: datetime) -> tuple[int, int]:
    """Delete expired locks and fail their holders' runs; returns (locks, runs).

    Each step is a single write statement: on SQLite a transaction that starts
    with a read may be refused the upgrade to writer while others write.
    """
    stale_holders = select(JobLock.holder).where(JobLock.expires_at < now)
    runs = db.execute(
        update(JobRun)
        .where(JobRun.status == "running", JobRun.holder.in_(stale_holders))
        .values(
            status="failed",
            finished_at=now,
            error="Abandoned: its lock expired without a heartbeat (the process stopped)",
        )
        .execution_options(synchronize_session=False)
    )
    locks = db.execute(
        delete(JobLock).where(JobLock.expires_at < now).execution_options(synchronize_session=False)
    )
    return jobs_lock.rowcount(locks), jobs_lock.rowcount(runs)


def fail_orphaned_runs(db: Session, *, now: datetime, exclude_run_id: int) -> int:
    """Fail "running" runs older than ``ORPHAN_GRACE`` whose holder holds no lock."""
    result = db.execute(
        update(JobRun)
        .where(
            JobRun.status == "running",
            JobRun.started_at < now - ORPHAN_GRACE,
            JobRun.id != exclude_run_id,
            JobRun.holder.is_not(None),
            JobRun.holder.not_in(select(JobLock.holder)),
        )
        .values(
            status="failed",
            finished_at=now,
            error="Abandoned: the process stopped before the run finished",
        )
        .execution_options(synchronize_session=False)
    )
    return jobs_lock.rowcount(result)


def delete_old_runs(db: Session, *, before: datetime) -> int:
    result = db.execute(
        delete(JobRun)
        .where(JobRun.started_at < before, JobRun.status != "running")
        .execution_options(synchronize_session=False)
    )
    return jobs_lock.rowcount(result)


@job(
    "core.prune",
    description=(
        "Delete expired or revoked dashboard sessions, release job locks of dead "
        "processes, and delete job runs older than the retention period."
    ),
    default_cron="30 3 * * *",
    lock_ttl_seconds=900,
)
def prune(context: JobContext) -> dict[str, Any]:
    now = context.clock.now()
    retention = _retention_days(context)
    with unit_of_work(context.session_factory) as db:
        sessions = prune_web_sessions(db, now=now)
    with unit_of_work(context.session_factory) as db:
        locks, lock_runs = release_stale_locks(db, now=now)
        orphans = fail_orphaned_runs(db, now=now, exclude_run_id=context.run_id)
    with unit_of_work(context.session_factory) as db:
        runs = delete_old_runs(db, before=now - timedelta(days=retention))
    return {
        "expiredSessionsDeleted": sessions,
        "staleLocksReleased": locks,
        "abandonedRunsFailed": lock_runs + orphans,
        "oldRunsDeleted": runs,
        "retentionDays": retention,
    }
