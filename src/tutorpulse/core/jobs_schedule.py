"""The schedule table (``job_schedule``) and the jobs overview built on it.

One row per scheduled job: a crontab expression in UTC and an ``enabled`` flag.
Rows are seeded from each job's ``default_cron`` the first time the scheduler
sees the job; after that the table is the truth, and edits to it are followed
by the running scheduler. Services here flush but never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid
from tutorpulse.core.jobs import JobSpec, get_job_or_raise, latest_runs, registered_jobs
from tutorpulse.core.jobs_cron import CronSyntaxError, next_fire_time, validate_cron
from tutorpulse.core.models import JobLock, JobRun, JobSchedule

SEED_ACTOR = "seed"


def seed_schedules(db: Session, *, specs: Iterable[JobSpec], now: datetime) -> list[str]:
    """Insert a row for each job with a ``default_cron`` and no row yet; returns their names.

    Safe when several processes seed at once (``ON CONFLICT DO NOTHING``).
    """
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    seeded = []
    for spec in specs:
        if spec.default_cron is None:
            continue
        stmt = (
            insert(cast(Table, JobSchedule.__table__))
            .values(
                job_name=spec.name,
                cron=spec.default_cron,
                enabled=True,
                updated_at=now,
                updated_by=SEED_ACTOR,
            )
            .on_conflict_do_nothing(index_elements=["job_name"])
            .returning(JobSchedule.job_name)
        )
        if db.execute(stmt).scalar_one_or_none() is not None:
            seeded.append(spec.name)
    return seeded


def list_schedules(db: Session) -> dict[str, JobSchedule]:
    """Every schedule row by job name (registered or not)."""
    return {row.job_name: row for row in db.scalars(select(JobSchedule)).all()}


def set_schedule(
    db: Session,
    *,
    job_name: str,
    actor: str,
    now: datetime,
    cron: str | None = None,
    enabled: bool | None = None,
) -> JobSchedule:
    """Change (or create) the schedule of a registered job; returns the row.

    Raises ``NotFound`` for an unknown job and ``Invalid`` for a bad cron or a
    new row without one.
    """
    spec = get_job_or_raise(job_name)
    if cron is not None:
        try:
            cron = validate_cron(cron)
        except CronSyntaxError as exc:
            raise Invalid.field("cron", str(exc)) from exc
    # Touch the row first so the transaction starts as a writer (SQLite, see jobs_lock).
    db.execute(
        update(JobSchedule)
        .where(JobSchedule.job_name == job_name)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    row = db.get(JobSchedule, job_name, populate_existing=True)
    if row is None:
        cron = cron or spec.default_cron
        if cron is None:
            raise Invalid.field("cron", f"job {job_name} has no default schedule; give one")
        row = JobSchedule(job_name=job_name, cron=cron, enabled=True)
        db.add(row)
    if cron is not None:
        row.cron = cron
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = now
    row.updated_by = actor
    db.flush()
    return row


@dataclass(frozen=True)
class JobOverview:
    """One registered job as the list, the admin page and ``/api/jobs`` show it."""

    name: str
    description: str
    default_cron: str | None
    cron: str | None
    enabled: bool
    next_run_at: datetime | None
    schedule_error: str | None
    last_run: JobRun | None
    lock: JobLock | None

    @property
    def schedule_label(self) -> str:
        if self.cron is None:
            return "manual only"
        return self.cron if self.enabled else f"{self.cron} (disabled)"


def job_overview(db: Session, *, now: datetime) -> list[JobOverview]:
    """Every registered job with its schedule, next fire time, last run and lock."""
    schedules = list_schedules(db)
    last = latest_runs(db)
    locks = {row.job_name: row for row in db.scalars(select(JobLock)).all()}
    rows = []
    for name, spec in registered_jobs().items():
        schedule = schedules.get(name)
        next_run, error = None, None
        if schedule is not None and schedule.enabled:
            try:
                next_run = next_fire_time(schedule.cron, now)
            except CronSyntaxError as exc:
                error = str(exc)
        rows.append(
            JobOverview(
                name=name,
                description=spec.description,
                default_cron=spec.default_cron,
                cron=schedule.cron if schedule else None,
                enabled=bool(schedule and schedule.enabled),
                next_run_at=next_run,
                schedule_error=error,
                last_run=last.get(name),
                lock=locks.get(name),
            )
        )
    return rows
