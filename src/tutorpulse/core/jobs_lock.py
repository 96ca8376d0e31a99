"""The job lock: one ``job_lock`` row per running job, on SQLite and PostgreSQL alike.

Acquiring is an ``INSERT … ON CONFLICT DO NOTHING`` in its own committed
transaction; the primary key on ``job_name`` lets exactly one inserter win, in
one process or many. When the row is already there but its ``expires_at`` has
passed (the holder died), it is taken over with a compare-and-swap ``UPDATE …
WHERE holder = <old holder> AND expires_at < now``: of several processes racing
for a stale lock only one sees a row updated. While a job runs, a heartbeat
pushes ``expires_at`` forward, so the TTL bounds how long a *dead* holder blocks
the job, not how long a live one may run. Release deletes the row only if we
still hold it.

A table, not ``pg_try_advisory_lock``: it works on both engines, survives the
connection pool (advisory locks belong to a connection), and shows who holds
the lock and since when.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core.db import unit_of_work
from tutorpulse.core.models import JobLock, JobRun

log = logging.getLogger("tutorpulse.jobs")


@dataclass(frozen=True)
class LockHolder:
    holder: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LockAttempt:
    """``acquired`` or not; ``current`` is the other holder when not, and
    ``taken_over`` the dead holder we replaced when the lock was stale."""

    acquired: bool
    current: LockHolder | None = None
    taken_over: LockHolder | None = None


def rowcount(result: Any) -> int:
    """Rows touched by a Core INSERT/UPDATE/DELETE executed through a Session."""
    return cast(CursorResult[Any], result).rowcount


def _insert_if_absent(db: Session, *, job_name: str, holder: str, now: datetime, ttl: int) -> bool:
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(cast(Table, JobLock.__table__))
        .values(
            job_name=job_name,
            holder=holder,
            acquired_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        .on_conflict_do_nothing(index_elements=["job_name"])
        # RETURNING, not rowcount: SQLAlchemy reports -1 rows for INSERTs.
        .returning(JobLock.job_name)
    )
    return db.execute(stmt).scalar_one_or_none() is not None


def try_acquire(
    session_factory: sessionmaker[Session],
    *,
    job_name: str,
    holder: str,
    now: datetime,
    ttl_seconds: int,
) -> LockAttempt:
    """Take the lock of ``job_name`` for ``holder`` (committed before returning)."""
    # A few rounds cover the holder releasing between our insert and our read.
    for _ in range(3):
        with unit_of_work(session_factory) as db:
            if _insert_if_absent(db, job_name=job_name, holder=holder, now=now, ttl=ttl_seconds):
                return LockAttempt(acquired=True)
            row = db.execute(
                select(JobLock.holder, JobLock.acquired_at, JobLock.expires_at).where(
                    JobLock.job_name == job_name
                )
            ).one_or_none()
            if row is None:
                continue
            current = LockHolder(row.holder, row.acquired_at, row.expires_at)
            if current.expires_at >= now:
                return LockAttempt(acquired=False, current=current)
            swapped = db.execute(
                update(JobLock)
                .where(
                    JobLock.job_name == job_name,
                    JobLock.holder == current.holder,
                    JobLock.expires_at < now,
                )
                .values(
                    holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=ttl_seconds)
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(swapped) == 1:
                return LockAttempt(acquired=True, taken_over=current)
    # Someone else won every round.
    with session_factory() as db:
        row = db.execute(
            select(JobLock.holder, JobLock.acquired_at, JobLock.expires_at).where(
                JobLock.job_name == job_name
            )
        ).one_or_none()
    last = LockHolder(row.holder, row.acquired_at, row.expires_at) if row else None
    return LockAttempt(acquired=False, current=last)


def extend(
    session_factory: sessionmaker[Session],
    *,
    job_name: str,
    holder: str,
    expires_at: datetime,
) -> bool:
    """Move our lock's expiry to ``expires_at``; False when we no longer hold it."""
    with unit_of_work(session_factory) as db:
        result = db.execute(
            update(JobLock)
            .where(JobLock.job_name == job_name, JobLock.holder == holder)
            .values(expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1


def release(session_factory: sessionmaker[Session], *, job_name: str, holder: str) -> bool:
    """Drop our lock; a lock someone took over from us is left alone. True if dropped."""
    with unit_of_work(session_factory) as db:
        result = db.execute(
            delete(JobLock)
            .where(JobLock.job_name == job_name, JobLock.holder == holder)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1


def abandon_runs(db: Session, *, holder: str, now: datetime, reason: str) -> int:
    """Mark the still-"running" runs of a dead ``holder`` as failed; returns how many."""
    result = db.execute(
        update(JobRun)
        .where(JobRun.holder == holder, JobRun.status == "running")
        .values(status="failed", finished_at=now, error=reason)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


class Heartbeat:
    """Extends a held lock every ``interval`` seconds until stopped (a daemon thread)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        job_name: str,
        holder: str,
        ttl_seconds: int,
        now: Callable[[], datetime],
    ) -> None:
        self._factory = session_factory
        self._job_name = job_name
        self._holder = holder
        self._ttl = ttl_seconds
        self._now = now
        self._interval = max(1.0, ttl_seconds / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"job-lock-heartbeat:{job_name}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                held = extend(
                    self._factory,
                    job_name=self._job_name,
                    holder=self._holder,
                    expires_at=self._now() + timedelta(seconds=self._ttl),
                )
            except Exception:
                log.exception("job %s: could not extend its lock", self._job_name)
                continue
            if not held:
                log.error("job %s: lost its lock (holder %s)", self._job_name, self._holder)
                return
