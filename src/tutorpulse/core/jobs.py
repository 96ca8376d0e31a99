"""The jobs registry and runner.

A job is a function registered under a ``domain.verb`` name with ``@job(...)``.
``run_job`` runs one: it records a ``JobRun`` (start, end, status, counts,
error), holds the job's lock for the whole run (see ``jobs_lock``) so the same
job never runs twice at once, and feeds the Prometheus metrics. Jobs take ids
and timestamps, never ORM objects, open their own units of work through
``context.session_factory`` and must be idempotent.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import re
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs_lock
from tutorpulse.core.clock import Clock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.errors import Invalid, Locked, NotFound
from tutorpulse.core.jobs_cron import CronSyntaxError, validate_cron
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings

log = logging.getLogger("tutorpulse.jobs")

JOB_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
MAX_ERROR_CHARS = 20_000
MAX_RUNS_PAGE = 500

# Modules that register jobs when imported. Domain modules appear as their issues
# land; the ones that do not exist yet are skipped.
JOB_MODULES = (
    "tutorpulse.core.jobs_prune",
    "tutorpulse.tutors.jobs",
    "tutorpulse.sessions.jobs",
    "tutorpulse.engagement.jobs",
    "tutorpulse.analytics.jobs",
    "tutorpulse.risk.jobs",
    "tutorpulse.alerts.jobs",
    "tutorpulse.email.jobs",
    "tutorpulse.interventions.jobs",
    "tutorpulse.experiments.jobs",
    "tutorpulse.insights.jobs",
)

JOB_RUNS = Counter("tutorpulse_job_runs", "Job runs by job and outcome.", ["job", "outcome"])
JOB_DURATION = Histogram(
    "tutorpulse_job_duration_seconds",
    "Wall time of job runs, by job and outcome.",
    ["job", "outcome"],
    buckets=(0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
JOB_LAST_SUCCESS = Gauge(
    "tutorpulse_job_last_success_timestamp_seconds",
    "Unix time at which each job last succeeded (in this process).",
    ["job"],
)


@dataclass(frozen=True)
class JobContext:
    """What a job function receives. Open units of work with ``session_factory``."""

    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock
    run_id: int
    trigger: str
    # Set by follow-up runs (the background refresher right after a health refresh):
    # only what changed since this moment needs looking at; None = the job's own rules.
    changed_since: datetime | None = None


JobFunc = Callable[[JobContext], dict[str, Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    func: JobFunc
    default_cron: str | None
    lock_ttl_seconds: int

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass
class JobLocked(Locked):
    """The job's lock is held by another run. A ``locked`` JobRun was still recorded."""

    job_name: str = ""
    holder: str | None = None
    acquired_at: datetime | None = None
    expires_at: datetime | None = None
    run_id: int | None = None


_REGISTRY: dict[str, JobSpec] = {}
_modules_loaded = False


def job(
    name: str,
    *,
    description: str,
    default_cron: str | None = None,
    lock_ttl_seconds: int = 3600,
) -> Callable[[JobFunc], JobFunc]:
    """Register the decorated function as job ``name`` (``domain.verb``).

    ``default_cron`` (five-field crontab, UTC) seeds the schedule table the first
    time the scheduler starts. Raises ``ValueError`` for a bad name, cron or TTL,
    or when another function already holds the name.
    """
    if not JOB_NAME_PATTERN.match(name) or len(name) > 100:
        raise ValueError(f"job name {name!r} must look like 'domain.verb' (lowercase, _)")
    if default_cron is not None:
        try:
            default_cron = validate_cron(default_cron)
        except CronSyntaxError as exc:
            raise ValueError(f"job {name}: {exc}") from exc
    if lock_ttl_seconds < 10:
        raise ValueError(f"job {name}: lock_ttl_seconds must be at least 10")

    def register(func: JobFunc) -> JobFunc:
        existing = _REGISTRY.get(name)
        if existing is not None and _qualname(existing.func) != _qualname(func):
            raise ValueError(f"job {name} is already registered by {_qualname(existing.func)}")
        _REGISTRY[name] = JobSpec(name, description.strip(), func, default_cron, lock_ttl_seconds)
        return func

    return register


def _qualname(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def registered_jobs() -> dict[str, JobSpec]:
    """The registered jobs by name, sorted by name (a copy)."""
    return dict(sorted(_REGISTRY.items()))


def get_job(name: str) -> JobSpec | None:
    return _REGISTRY.get(name)


def get_job_or_raise(name: str) -> JobSpec:
    """The spec of ``name``; raises ``NotFound`` naming the registered jobs."""
    spec = _REGISTRY.get(name)
    if spec is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"Unknown job {name!r}. Registered jobs: {known}")
    return spec


def unregister_job(name: str) -> None:
    """Remove ``name`` from the registry (tests register throwaway jobs)."""
    _REGISTRY.pop(name, None)


def load_job_modules() -> None:
    """Import every module in ``JOB_MODULES`` that exists, registering its jobs.

    A module that exists but fails to import raises: a broken job module must
    not silently drop its jobs.
    """
    global _modules_loaded
    if _modules_loaded:
        return
    for module in JOB_MODULES:
        package = module.rpartition(".")[0]
        if importlib.util.find_spec(package) is None:
            continue
        if importlib.util.find_spec(module) is None:
            continue
        importlib.import_module(module)
    _modules_loaded = True


def _holder_prefix() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _error_text(exc: BaseException) -> str:
    summary = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    text = f"{summary}\n\n{trace}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _as_counts(result: object) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise TypeError(f"job returned {type(result).__name__}, expected a dict of counts")
    # Round-trip through JSON so what is stored is exactly what the API will show.
    counts: dict[str, Any] = json.loads(json.dumps(result, default=str))
    return counts


def _finish(
    session_factory: sessionmaker[Session],
    run_id: int,
    *,
    status: str,
    finished_at: datetime,
    duration: float,
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> JobRun:
    # Write before reading: on SQLite a transaction that reads first cannot always
    # be upgraded to a writer while other processes write (SQLITE_BUSY at once).
    with session_factory() as db:
        db.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                status=status,
                finished_at=finished_at,
                duration_seconds=round(duration, 6),
                counts=counts or {},
                error=error,
            )
            .execution_options(synchronize_session=False)
        )
        db.commit()
        run = db.get_one(JobRun, run_id)
        db.expunge(run)
    JOB_RUNS.labels(job=run.job_name, outcome=status).inc()
    JOB_DURATION.labels(job=run.job_name, outcome=status).observe(duration)
    if status == "succeeded":
        JOB_LAST_SUCCESS.labels(job=run.job_name).set_to_current_time()
    return run


def run_job(
    name: str,
    *,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    trigger: str,
) -> JobRun:
    """Run job ``name`` now and return its finished ``JobRun``.

    The run's status is ``succeeded`` or ``failed`` (with the error and traceback
    in ``error``); a failing job does not raise. Raises ``NotFound`` for an
    unknown job, ``Invalid`` for a bad trigger, and ``JobLocked`` when another
    run holds the lock, after recording a ``locked`` run.
    """
    spec = get_job_or_raise(name)
    if not trigger or len(trigger) > 20:
        raise Invalid.field("trigger", "must be 1-20 characters")
    started = time.monotonic()
    with unit_of_work(session_factory) as db:
        run = JobRun(
            job_name=name, trigger=trigger, status="running", started_at=clock.now(), counts={}
        )
        db.add(run)
        db.flush()
        run_id = run.id
        holder = f"{_holder_prefix()} run {run_id}"
        run.holder = holder

    attempt = jobs_lock.try_acquire(
        session_factory,
        job_name=name,
        holder=holder,
        now=clock.now(),
        ttl_seconds=spec.lock_ttl_seconds,
    )
    if not attempt.acquired:
        return _locked(session_factory, spec, run_id, attempt, clock, started)
    if attempt.taken_over is not None:
        _take_over(session_factory, spec, attempt.taken_over, clock)

    log.info("job %s: run %s started (trigger %s)", name, run_id, trigger)
    heartbeat = jobs_lock.Heartbeat(
        session_factory,
        job_name=name,
        holder=holder,
        ttl_seconds=spec.lock_ttl_seconds,
        now=clock.now,
    ).start()
    context = JobContext(session_factory, settings, clock, run_id, trigger)
    status, counts, error = "failed", None, None
    try:
        counts = _as_counts(spec.func(context))
        status = "succeeded"
    except Exception as exc:
        error = _error_text(exc)
        log.exception("job %s: run %s failed", name, run_id)
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: record, then let it go on
        error = _error_text(exc)
        raise
    finally:
        heartbeat.stop()
        try:
            jobs_lock.release(session_factory, job_name=name, holder=holder)
        finally:
            finished = _finish(
                session_factory,
                run_id,
                status=status,
                finished_at=clock.now(),
                duration=time.monotonic() - started,
                counts=counts,
                error=error,
            )
    log.info("job %s: run %s %s in %.3fs", name, run_id, status, finished.duration_seconds)
    return finished


def _locked(
    session_factory: sessionmaker[Session],
    spec: JobSpec,
    run_id: int,
    attempt: jobs_lock.LockAttempt,
    clock: Clock,
    started: float,
) -> JobRun:
    current = attempt.current
    if current is not None:
        message = (
            f"Job {spec.name} is already running: lock held by {current.holder} since "
            f"{current.acquired_at.isoformat()} (expires {current.expires_at.isoformat()})"
        )
    else:
        message = f"Job {spec.name} is already running (lock contended)"
    _finish(
        session_factory,
        run_id,
        status="locked",
        finished_at=clock.now(),
        duration=time.monotonic() - started,
        error=message,
    )
    log.info("job %s: run %s skipped, %s", spec.name, run_id, message)
    raise JobLocked(
        message,
        job_name=spec.name,
        holder=current.holder if current else None,
        acquired_at=current.acquired_at if current else None,
        expires_at=current.expires_at if current else None,
        run_id=run_id,
    )


def _take_over(
    session_factory: sessionmaker[Session],
    spec: JobSpec,
    dead: jobs_lock.LockHolder,
    clock: Clock,
) -> None:
    reason = (
        f"Abandoned: its lock expired at {dead.expires_at.isoformat()} without a heartbeat "
        "(the process stopped) and another run took the lock over"
    )
    with unit_of_work(session_factory) as db:
        count = jobs_lock.abandon_runs(db, holder=dead.holder, now=clock.now(), reason=reason)
    log.warning(
        "job %s: took over the stale lock of %s (%d run(s) marked failed)",
        spec.name,
        dead.holder,
        count,
    )


def list_runs(
    db: Session, *, job_name: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[JobRun], int]:
    """Runs newest first, and the total matching; ``limit`` is clamped to 1..500."""
    limit = max(1, min(limit, MAX_RUNS_PAGE))
    offset = max(0, offset)
    query = select(JobRun)
    count = select(func.count()).select_from(JobRun)
    if job_name:
        query = query.where(JobRun.job_name == job_name)
        count = count.where(JobRun.job_name == job_name)
    rows = db.scalars(
        query.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(db.scalar(count) or 0)


def latest_runs(db: Session) -> dict[str, JobRun]:
    """The most recent run of each job that has run, by job name."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job_name).scalar_subquery()
    rows = db.scalars(select(JobRun).where(JobRun.id.in_(newest))).all()
    return {row.job_name: row for row in rows}
