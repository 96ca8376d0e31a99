"""A background thread in each API process that refreshes health soon after ingestion.

Ingestion pokes it; it waits ``engagement_refresh_delay_seconds`` (so a burst of
writes is handled in one pass; passes start at least
``engagement_refresh_min_interval_seconds`` apart), then runs the same refresh as the
``engagement.refresh`` job under the job's lock, so it never overlaps the
scheduled run or another process. The scheduled job stays the safety net (and
handles data that arrived by file import or from another process).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs_lock
from tutorpulse.core.clock import Clock
from tutorpulse.core.jobs import JobContext, get_job, load_job_modules
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.refresh import run_refresh

log = logging.getLogger("tutorpulse.engagement")
JOB_NAME = "engagement.refresh"
# Jobs that evaluate fresh health; run right after a refresh so an event raises its
# alert within seconds, not at the next scheduled minute.
FOLLOW_UP_JOBS = ("alerts.generate",)


class Refresher:
    def __init__(
        self, session_factory: sessionmaker[Session], settings: Settings, clock: Clock
    ) -> None:
        self._session_factory = session_factory
        self._settings = settings
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="engagement-refresher", daemon=True)
        self._holder = f"{socket.gethostname()}:{os.getpid()} refresher"
        self.runs = 0

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def poke(self) -> None:
        """Note that new data arrived; cheap and non-blocking."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def spacing(self, last_duration: float) -> float:
        """Seconds from one pass's start to the next one's under sustained ingestion.

        At least the minimum interval, and long enough that passes take at most
        ``ENGAGEMENT_REFRESH_MAX_SHARE`` of the time (the refresh shares the API
        process's interpreter with the requests), but never more than
        ``ENGAGEMENT_REFRESH_MAX_INTERVAL_SECONDS``, so health stays within a minute
        of the data even when a pass is slow.
        """
        s = self._settings
        by_share = last_duration / s.engagement_refresh_max_share
        ceiling = max(
            s.engagement_refresh_min_interval_seconds, s.engagement_refresh_max_interval_seconds
        )
        return max(s.engagement_refresh_min_interval_seconds, min(by_share, ceiling))

    def _loop(self) -> None:
        last_start = float("-inf")
        last_duration = 0.0
        while not self._stop.is_set():
            self._wake.wait()
            # Wait for the burst to settle, and keep passes apart (see spacing()): under
            # sustained load the refresh then costs a bounded share of the process
            # instead of running back to back.
            since_last = time.monotonic() - last_start
            pause = max(
                self._settings.engagement_refresh_delay_seconds,
                self.spacing(last_duration) - since_last,
            )
            if self._stop.wait(pause):
                return
            self._wake.clear()
            last_start = time.monotonic()
            try:
                self._run_once()
            except Exception:  # keep the thread alive; the scheduled job retries
                log.exception("background engagement refresh failed")
                self._stop.wait(5)
            last_duration = time.monotonic() - last_start

    def _run_once(self) -> None:
        attempt = jobs_lock.try_acquire(
            self._session_factory,
            job_name=JOB_NAME,
            holder=self._holder,
            now=self._clock.now(),
            ttl_seconds=300,
        )
        if not attempt.acquired:
            self._wake.set()  # someone else is refreshing; look again after the delay
            return
        result = None
        started = self._clock.now()
        try:
            result = run_refresh(
                self._session_factory, settings=self._settings, now_fn=self._clock.now
            )
            self.runs += 1
            if result.remaining_dirty:
                self._wake.set()  # out of time budget: carry on after the delay
        finally:
            jobs_lock.release(self._session_factory, job_name=JOB_NAME, holder=self._holder)
        if result is not None and result.tutors_rolled_up:
            # Health rows of this pass carry computed_at >= started (a frozen test clock
            # gives equality); the jobs select strictly later rows, hence the tick back.
            self._follow_up(started - timedelta(microseconds=1))

    def _follow_up(self, changed_since: datetime) -> None:
        """Run the jobs that read fresh health (alerts) for the tutors just refreshed.

        Under each job's own lock, without a JobRun row (this happens every few
        seconds under load); the scheduled runs stay recorded as usual. The jobs are
        told what changed when (``changed_since``): they look at those tutors only and
        leave full passes to their scheduled runs.
        """
        load_job_modules()
        for name in FOLLOW_UP_JOBS:
            spec = get_job(name)
            if spec is None:
                continue
            attempt = jobs_lock.try_acquire(
                self._session_factory,
                job_name=name,
                holder=self._holder,
                now=self._clock.now(),
                ttl_seconds=spec.lock_ttl_seconds,
            )
            if not attempt.acquired:
                continue  # the scheduled run is on it
            try:
                spec.func(
                    JobContext(
                        self._session_factory,
                        self._settings,
                        self._clock,
                        0,
                        "refresher",
                        changed_since=changed_since,
                    )
                )
            except Exception:
                log.exception("follow-up job %s after the engagement refresh failed", name)
            finally:
                jobs_lock.release(self._session_factory, job_name=name, holder=self._holder)
