"""HTTP fixtures for the jobs endpoints: an app on the test database, logins and API keys.

Jobs commit for real (they open their own units of work), so these fixtures
empty the job tables and remove the users, keys and audit entries they made,
before and after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.app import create_app
from tutorpulse.core import auth, jobs
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory, unit_of_work
from tutorpulse.core.models import (
    ApiKey,
    AuditLog,
    JobLock,
    JobRun,
    JobSchedule,
    User,
    WebSession,
)
from tutorpulse.core.settings import Settings
from tutorpulse.web.auth import SESSION_COOKIE

CRON_SECRET = "cron-s3cret-value"
TEST_DOMAIN = "@jobs-test.invalid"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _clean(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as db:
        for model in (JobRun, JobLock, JobSchedule, WebSession):
            db.execute(delete(model))
        db.execute(delete(AuditLog).where(AuditLog.action.like("job.%")))
        db.execute(delete(ApiKey).where(ApiKey.name.like("jobs-test%")))
        db.execute(delete(User).where(User.email.like(f"%{TEST_DOMAIN}")))


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    factory = make_session_factory(engine)
    _clean(factory)
    yield factory
    _clean(factory)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def make_app(
    engine: Engine, database_url: str, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> Callable[..., FastAPI]:
    def _make(cron_secret: str | None = CRON_SECRET) -> FastAPI:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=database_url,
            scheduler_enabled=False,
            cron_secret=SecretStr(cron_secret) if cron_secret is not None else None,
        )
        return create_app(settings, engine=engine, clock=clock)

    return _make


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def register_job() -> Iterator[Callable[..., Callable[[jobs.JobFunc], jobs.JobFunc]]]:
    names: list[str] = []

    def register(name: str, **options: Any) -> Callable[[jobs.JobFunc], jobs.JobFunc]:
        names.append(name)
        options.setdefault("description", f"test job {name}")
        return jobs.job(name, **options)

    yield register
    for name in names:
        jobs.unregister_job(name)


@pytest.fixture
def login(
    client: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> Callable[[str], str]:
    """``login(role)`` signs the client in as a new user of ``role``; returns the CSRF token."""

    def _login(role: str) -> str:
        with unit_of_work(session_factory) as db:
            user = auth.create_user(
                db, email=f"{role}{TEST_DOMAIN}", password="a-long-test-password", role=role
            )
            session, token = auth.start_web_session(
                db, user=user, now=clock.now(), max_age_seconds=3600
            )
            csrf = session.csrf_token
        client.cookies.set(SESSION_COOKIE, token)
        return csrf

    return _login


@pytest.fixture
def api_key(session_factory: sessionmaker[Session]) -> Callable[[list[str]], str]:
    """``api_key(scopes)`` creates a key and returns its plaintext."""

    def _key(scopes: list[str]) -> str:
        with unit_of_work(session_factory) as db:
            _row, plaintext = auth.create_api_key(
                db, name=f"jobs-test {'+'.join(scopes)}", scopes=scopes
            )
        return plaintext

    return _key
