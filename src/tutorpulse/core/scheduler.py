"""The embedded scheduler: APScheduler 3 in a background thread, driven by ``job_schedule``.

``start_scheduler`` loads the job modules, seeds the schedule table from the
jobs' ``default_cron`` (rows that already exist are left alone), and then
re-reads the table every ``refresh_seconds`` so edits (new cron, enabled on or
off) take effect without a restart. Every fire calls ``run_job(trigger=
"schedule")``; a fire that finds the job locked is logged, not an error, and is
recorded as a ``locked`` run.

Run it in one process per deployment (``TUTORPULSE_SCHEDULER_ENABLED=false``
elsewhere): the job lock prevents overlap, but each extra scheduler records a
``locked`` run per fire.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core.clock import Clock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import JobLocked, load_job_modules, registered_jobs, run_job
from tutorpulse.core.jobs_cron import CronSyntaxError, parse_cron
from tutorpulse.core.jobs_schedule import list_schedules, seed_schedules
from tutorpulse.core.settings import Settings

log = logging.getLogger("tutorpulse.scheduler")

REFRESH_JOB_ID = "__refresh_schedule__"
DEFAULT_REFRESH_SECONDS = 60


class Scheduler:
    """Follows the schedule table; ``state`` reports what it will run and when."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._factory = session_factory
        self._settings = settings
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        # APScheduler logs every fire (the schedule refresh too, each minute) at INFO;
        # this module logs what matters: scheduled, unscheduled, skipped, failed.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._crons: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self._unknown: list[str] = []
        self._last_refresh_at: datetime | None = None
        self._lock = threading.Lock()  # guards the fields ``state`` reads
        self._refresh_lock = threading.Lock()  # one refresh at a time

    def start(self) -> Scheduler:
        """Seed the table, schedule what it says and start the background thread."""
        with unit_of_work(self._factory) as db:
            seeded = seed_schedules(db, specs=registered_jobs().values(), now=self._clock.now())
        if seeded:
            log.info("seeded schedules for %s", ", ".join(seeded))
        self.refresh()
        self._aps.start()
        self._aps.add_job(
            self._safe_refresh,
            IntervalTrigger(seconds=self._refresh_seconds, timezone=UTC),
            id=REFRESH_JOB_ID,
            name="re-read job_schedule",
        )
        log.info("scheduler started (%d job(s) scheduled)", len(self._crons))
        return self

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait`` let running jobs finish first."""
        if self._aps.running:
            self._aps.shutdown(wait=wait)
            log.info("scheduler stopped")

    def refresh(self) -> None:
        """Bring the scheduled jobs in line with the table (called every ``refresh_seconds``)."""
        with self._refresh_lock:
            self._refresh()

    def _refresh(self) -> None:
        with self._factory() as db:
            rows = {name: (row.cron, row.enabled) for name, row in list_schedules(db).items()}
        specs = registered_jobs()
        wanted: dict[str, str] = {}
        errors: dict[str, str] = {}
        for name, (cron, enabled) in rows.items():
            if name not in specs or not enabled:
                continue
            try:
                trigger = parse_cron(cron)
            except CronSyntaxError as exc:
                errors[name] = str(exc)
                continue
            wanted[name] = cron
            if self._crons.get(name) == cron and self._aps.get_job(name) is not None:
                continue
            self._aps.add_job(
                self._fire, trigger, args=[name], id=name, name=name, replace_existing=True
            )
            log.info("scheduled %s at %r (UTC)", name, cron)
        for name in set(self._crons) - set(wanted):
            if self._aps.get_job(name) is not None:
                self._aps.remove_job(name)
            log.info("unscheduled %s", name)
        for name, message in errors.items():
            if self._errors.get(name) != message:
                log.error("schedule of %s ignored: %s", name, message)
        with self._lock:
            self._crons = wanted
            self._errors = errors
            self._unknown = sorted(set(rows) - set(specs))
            self._last_refresh_at = datetime.now(UTC)

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.exception("could not re-read the job schedule; keeping the current one")

    def _fire(self, name: str) -> None:
        try:
            run = run_job(
                name,
                session_factory=self._factory,
                settings=self._settings,
                clock=self._clock,
                trigger="schedule",
            )
        except JobLocked as exc:
            log.info("scheduled %s skipped: %s", name, exc)
            return
        except Exception:
            log.exception("scheduled %s could not be run", name)
            return
        if run.status != "succeeded":
            log.warning("scheduled %s: run %s %s", name, run.id, run.status)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    @property
    def state(self) -> dict[str, Any]:
        """JSON-ready: running, refreshSeconds, lastRefreshAt, jobs[{name, cron,
        nextRunAt}], errors{name: message}, unknownJobs (rows for unregistered jobs)."""
        with self._lock:
            crons = dict(self._crons)
            errors = dict(self._errors)
            unknown = list(self._unknown)
            last_refresh = self._last_refresh_at
        jobs = []
        for name, cron in sorted(crons.items()):
            aps_job = self._aps.get_job(name)
            next_run = getattr(aps_job, "next_run_time", None) if aps_job else None
            jobs.append(
                {
                    "name": name,
                    "cron": cron,
                    "nextRunAt": next_run.astimezone(UTC).isoformat() if next_run else None,
                }
            )
        return {
            "running": self.running,
            "refreshSeconds": self._refresh_seconds,
            "lastRefreshAt": last_refresh.isoformat() if last_refresh else None,
            "jobs": jobs,
            "errors": errors,
            "unknownJobs": unknown,
        }


def start_scheduler(
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    *,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> Scheduler:
    """Load the job modules and start a ``Scheduler``; call ``.shutdown()`` on exit."""
    load_job_modules()
    return Scheduler(session_factory, settings, clock, refresh_seconds=refresh_seconds).start()
