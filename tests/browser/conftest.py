"""A live TutorPulse (uvicorn in a thread, temp SQLite, small dataset) and Debian's Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher

from tutorpulse.app import create_app
from tutorpulse.core import auth, migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.engagement.models import EngagementEvent, TutorHealth
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
NOW = datetime(2025, 3, 1, tzinfo=UTC)
ADMIN_EMAIL = "admin@browser.test"
ADMIN_PASSWORD = "browser-test-password"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

SUBJECTS = ("Math", "Science", "English", "History")
STATUSES = ("completed", "completed", "completed", "tutor_no_show", "rescheduled", "cancelled")


def _seed(factory: Any) -> None:
    """Twelve tutors with a month of sessions, logins and a few risk scores."""
    with unit_of_work(factory) as db:
        students = [Student(external_id=f"S{i:04d}", grade_level="college") for i in range(20)]
        db.add_all(students)
        tutors = []
        for i in range(12):
            subject = SUBJECTS[i % len(SUBJECTS)]
            tutors.append(
                Tutor(
                    external_id=f"T{i + 1:04d}",
                    email=f"tutor{i + 1}@browser.test",
                    name=f"Tutor Number{i + 1}",
                    subjects=[subject],
                    primary_subject=subject,
                    certification_level=("basic", "advanced", "expert")[i % 3],
                    joined_on=date(2024, 1, 1) + timedelta(days=20 * i),
                    status="churned" if i == 11 else "active",
                    churned_at=NOW - timedelta(days=3) if i == 11 else None,
                )
            )
        db.add_all(tutors)
        db.flush()
        n = 0
        for i, tutor in enumerate(tutors):
            for day in range(1, 30, 1 + i % 3):
                status = STATUSES[(day + i) % len(STATUSES)]
                n += 1
                db.add(
                    TutorSession(
                        external_id=f"B{n:06d}",
                        tutor_id=tutor.id,
                        student_id=students[(day + i) % len(students)].id,
                        subject=tutor.primary_subject,
                        scheduled_start=NOW - timedelta(days=day) + timedelta(hours=9 + i % 6),
                        scheduled_minutes=60,
                        status=status,
                        is_first_session=day == 29,
                        student_rating=1 + (day * 7 + i) % 5 if status == "completed" else None,
                        engagement_score=float(4 + (day + i) % 6)
                        if status == "completed"
                        else None,
                    )
                )
            for day in range(0, 28, 2 + i % 4):
                db.add(
                    EngagementEvent(
                        tutor_id=tutor.id,
                        event_type="login",
                        occurred_at=NOW - timedelta(days=day, hours=3),
                        data={},
                    )
                )
        for i, probability in ((0, 0.81), (3, 0.55), (6, 0.2)):
            db.add(
                TutorHealth(
                    tutor_id=tutors[i].id,
                    as_of=NOW,
                    computed_at=NOW,
                    churn_probability=probability,
                    churn_risk_level="high" if probability >= 0.5 else "low",
                )
            )
        auth.create_user(
            db, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role="admin", name="Browser Admin"
        )
    # The overview, tutor list and activation page read the engagement rollups.
    refresh.rebuild(factory, settings=Settings(_env_file=None), now_fn=lambda: NOW)  # type: ignore[call-arg]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (install Debian's chromium package)")
    auth.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'live.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    _seed(make_session_factory(engine))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        scheduler_enabled=False,
    )
    app = create_app(settings, engine=engine, clock=FrozenClock(NOW))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
    auth.set_password_hasher(PasswordHasher())


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
