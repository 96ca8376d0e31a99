"""Shared set-up of the outbox tests: committed rows on the test database, cleaned up after.

The outbox worker commits (claim, then result, per message), so these tests
cannot use the rolled-back ``db`` fixture; they write through a real session
factory and delete what they made (tutors ``EM…`` and every outbox row).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core.db import unit_of_work
from tutorpulse.core.models import JobLock, JobRun
from tutorpulse.core.settings import Settings
from tutorpulse.email import service
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention
from tutorpulse.tutors.models import Tutor

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 15:00 UTC, a Tuesday
BASE_URL = "https://tp.example.test"
PORTAL = "https://tutors.example.test"
PREFIX = "EM"


def clean(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as db:
        db.execute(delete(EmailEvent))
        db.execute(delete(Intervention))
        db.execute(delete(Suppression))
        db.execute(delete(Tutor).where(Tutor.external_id.like(f"{PREFIX}%")))
        db.execute(delete(JobRun).where(JobRun.job_name == "email.send_pending"))
        db.execute(delete(JobLock).where(JobLock.job_name == "email.send_pending"))


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": SecretStr("outbox-test-secret-0123456789abcdef"),
        "public_base_url": BASE_URL,
        "email_portal_url": PORTAL,
        "email_from": "Tutor Success <success@tutorpulse.test>",
        "email_postal_address": "1 Test Street, Testville",
        "email_quiet_hours_start": 0,
        "email_quiet_hours_end": 0,
        "email_frequency_cap_count": 0,
        "email_send_rate_per_second": 0,
        "email_backoff_base_seconds": 60,
        "email_max_attempts": 3,
        "email_claim_timeout_seconds": 600,
        "scheduler_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def add_tutor(
    factory: sessionmaker[Session], n: int, *, timezone: str = "UTC", name: str | None = None
) -> str:
    external = f"{PREFIX}{n:05d}"
    with unit_of_work(factory) as db:
        db.add(
            Tutor(
                external_id=external,
                email=f"tutor{n}@example.test",
                name=name or f"Tutor Number{n}",
                timezone=timezone,
                subjects=["Math"],
                primary_subject="Math",
                joined_on=date(2024, 1, 1),
                status="active",
                last_login_at=NOW - timedelta(days=9, hours=2),
            )
        )
    return external


def queue(
    factory: sessionmaker[Session],
    settings: Settings,
    tutor_id: str,
    *,
    template: str = "engagement_no_login_7d",
    now: datetime = NOW,
    variables: dict[str, Any] | None = None,
) -> int:
    with unit_of_work(factory) as db:
        queued = service.queue_email(
            db,
            tutor_id=tutor_id,
            template_key=template,
            variables=variables or {},
            now=now,
            settings=settings,
        )
        return queued.intervention.id


def rows(factory: sessionmaker[Session]) -> list[Intervention]:
    with factory() as db:
        return list(db.query(Intervention).order_by(Intervention.id))


def events(factory: sessionmaker[Session], intervention_id: int) -> list[str]:
    with factory() as db:
        return [
            e.event_type
            for e in db.query(EmailEvent)
            .filter(EmailEvent.intervention_id == intervention_id)
            .order_by(EmailEvent.id)
        ]
