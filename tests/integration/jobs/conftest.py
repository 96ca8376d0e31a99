"""Fixtures for job tests: jobs commit for real, so these tests clean up after themselves.

``run_job`` opens its own units of work (that is the point of a job), so the
rolled-back ``db`` fixture cannot hold its writes. These fixtures use the same
migrated test database and delete the rows of the job tables (and the dashboard
sessions and users the prune tests create) before and after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory, unit_of_work
from tutorpulse.core.models import JobLock, JobRun, JobSchedule, User, WebSession
from tutorpulse.core.settings import Settings

TEST_USER_DOMAIN = "@jobs-test.invalid"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clean_job_tables(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as db:
        for model in (JobRun, JobLock, JobSchedule, WebSession):
            db.execute(delete(model))
        db.execute(delete(User).where(User.email.like(f"%{TEST_USER_DOMAIN}")))


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A committing session factory on the test database, job tables emptied around the test."""
    factory = make_session_factory(engine)
    clean_job_tables(factory)
    yield factory
    clean_job_tables(factory)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, scheduler_enabled=False)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def register_job() -> Iterator[Callable[..., Callable[[jobs.JobFunc], jobs.JobFunc]]]:
    """``register_job(name, **options)`` works like ``@job``; the jobs vanish after the test."""
    names: list[str] = []

    def register(name: str, **options: Any) -> Callable[[jobs.JobFunc], jobs.JobFunc]:
        names.append(name)
        options.setdefault("description", f"test job {name}")
        return jobs.job(name, **options)

    yield register
    for name in names:
        jobs.unregister_job(name)


@pytest.fixture
def run(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> Callable[..., JobRun]:
    """``run(name, trigger="test")``: run_job with the test database, settings and clock."""

    def _run(name: str, trigger: str = "test") -> JobRun:
        return jobs.run_job(
            name, session_factory=session_factory, settings=settings, clock=clock, trigger=trigger
        )

    return _run
