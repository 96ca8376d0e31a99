"""HTTP fixtures: the real app (create_app) on the per-test database session.

``get_db`` is overridden to hand every request the test's ``db`` session (bound
to a transaction that is rolled back after the test); a request that succeeds
commits a SAVEPOINT, one that fails rolls it back, as in production. The clock
is frozen at ``NOW``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tutorpulse.app import create_app
from tutorpulse.core import auth
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.models import User
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import EngagementEvent, TutorHealth
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor
from tutorpulse.web.auth import SESSION_COOKIE
from tutorpulse.web.deps import get_db

NOW = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Real argon2id with small parameters so creating users in tests stays fast."""
    auth.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    auth.set_password_hasher(PasswordHasher())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        scheduler_enabled=False,
        engagement_background_refresh=False,
        api_key_cache_seconds=0,
        session_max_age_seconds=3600,
    )


@pytest.fixture
def app_factory(
    engine: Engine, db: Session, settings: Settings, clock: FrozenClock
) -> Callable[..., FastAPI]:
    def make(settings_override: Settings | None = None) -> FastAPI:
        app = create_app(settings_override or settings, engine=engine, clock=clock)

        def test_db() -> Iterator[Session]:
            db.commit()  # the test's own rows survive a failing request's rollback
            try:
                yield db
                db.commit()  # releases the request's SAVEPOINT; the test transaction stays
            except BaseException:
                db.rollback()
                raise

        app.dependency_overrides[get_db] = test_db
        app.state.unit_of_work_override = contextmanager(lambda write=False: test_db())
        return app

    return make


@pytest.fixture
def app(app_factory: Callable[..., FastAPI]) -> FastAPI:
    return app_factory()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """An anonymous client that does not follow redirects."""
    return TestClient(app, follow_redirects=False)


@dataclass
class Login:
    client: TestClient
    user: User
    csrf_token: str


@pytest.fixture
def login_as(app: FastAPI, db: Session, clock: FrozenClock) -> Callable[[str], Login]:
    """A client logged in (server-side session cookie) as a new user of ``role``."""
    counter = {"n": 0}

    def make(role: str) -> Login:
        counter["n"] += 1
        user = auth.create_user(
            db,
            email=f"{role}{counter['n']}@example.test",
            password=PASSWORD,
            role=role,
            name=f"{role.title()} {counter['n']}",
        )
        session, token = auth.start_web_session(
            db, user=user, now=clock.now(), max_age_seconds=3600
        )
        c = TestClient(app, follow_redirects=False)
        c.cookies.set(SESSION_COOKIE, token)
        return Login(client=c, user=user, csrf_token=session.csrf_token)

    return make


@pytest.fixture
def admin(login_as: Callable[[str], Login]) -> Login:
    return login_as("admin")


@pytest.fixture
def viewer(login_as: Callable[[str], Login]) -> Login:
    return login_as("viewer")


@pytest.fixture
def api_key(db: Session) -> Callable[..., str]:
    """Create an API key with the given scopes; returns the plaintext ``tp_…`` key."""

    def make(*scopes: str, name: str = "test key") -> str:
        _row, plaintext = auth.create_api_key(db, name=name, scopes=list(scopes))
        return plaintext

    return make


class Factory:
    """Insert rows directly through the ORM (flushed, rolled back after the test)."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def tutor(self, external_id: str | None = None, **fields: Any) -> Tutor:
        n = self._next()
        values: dict[str, Any] = {
            "external_id": external_id or f"T{n:04d}",
            "email": f"tutor{n}@example.test",
            "name": f"Tutor {n}",
            "subjects": ["Math"],
            "primary_subject": "Math",
            "certification_level": "basic",
            "joined_on": date(2024, 1, 1),
            "status": "active",
        }
        values.update(fields)
        row = Tutor(**values)
        self.db.add(row)
        self.db.flush()
        return row

    def student(self, external_id: str | None = None) -> Student:
        row = Student(external_id=external_id or f"S{self._next():05d}", grade_level="college")
        self.db.add(row)
        self.db.flush()
        return row

    def session(
        self,
        tutor: Tutor,
        start: datetime,
        status: str = "completed",
        *,
        student: Student | None = None,
        **fields: Any,
    ) -> TutorSession:
        values: dict[str, Any] = {
            "external_id": f"X{self._next():06d}",
            "tutor_id": tutor.id,
            "student_id": (student or self.student()).id,
            "subject": tutor.primary_subject,
            "scheduled_start": start,
            "scheduled_minutes": 60,
            "status": status,
        }
        values.update(fields)
        row = TutorSession(**values)
        self.db.add(row)
        self.db.flush()
        return row

    def event(self, tutor: Tutor, at: datetime, event_type: str = "login", **data: Any) -> None:
        self.db.add(
            EngagementEvent(tutor_id=tutor.id, event_type=event_type, occurred_at=at, data=data)
        )
        self.db.flush()

    def health(self, tutor: Tutor, **fields: Any) -> TutorHealth:
        """Set health fields (creating the row, or updating the one a refresh made)."""
        row = self.db.get(TutorHealth, tutor.id)
        if row is None:
            row = TutorHealth(tutor_id=tutor.id, as_of=NOW, computed_at=NOW)
            self.db.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
        self.db.flush()
        return row


@pytest.fixture
def factory(db: Session) -> Factory:
    return Factory(db)


@pytest.fixture
def now() -> datetime:
    return NOW
