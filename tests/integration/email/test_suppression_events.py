"""Recording provider events: races on the unique event id, unmatched events, forward-only status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.email import events, suppression, webhooks
from tutorpulse.email.models import EmailEvent
from tutorpulse.interventions.models import Intervention
from tutorpulse.tutors.models import Tutor

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def message(db: Session) -> Intervention:
    tutor = Tutor(
        external_id="T8001",
        email="ev@example.test",
        name="Ev",
        subjects=["Math"],
        primary_subject="Math",
        certification_level="basic",
        joined_on=date(2024, 1, 1),
        status="active",
    )
    db.add(tutor)
    db.flush()
    row = Intervention(
        idempotency_key="ev-1",
        tutor_id=tutor.id,
        intervention_type="re_engagement",
        to_email="ev@example.test",
        status="sent",
        sent_at=NOW - timedelta(hours=1),
        provider_message_id="pm-1",
    )
    db.add(row)
    db.flush()
    return row


def event(kind: str, event_id: str, **fields: object) -> webhooks.ProviderEvent:
    values: dict[str, object] = {
        "provider": "resend",
        "provider_event_id": f"resend:{event_id}",
        "kind": kind,
        "occurred_at": NOW,
        "provider_message_id": "pm-1",
    }
    values.update(fields)
    return webhooks.ProviderEvent(**values)  # type: ignore[arg-type]


def test_concurrent_duplicate_hits_the_unique_key_and_is_ignored(
    db: Session, message: Intervention, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = event(webhooks.DELIVERED, "dup")
    assert events.record_provider_event(db, event=first, now=NOW, click_window_seconds=10) == (
        "recorded"
    )
    # Another request stored the same event between our check and our insert.
    monkeypatch.setattr(events, "_already_recorded", lambda _db, _id: False)
    bounce_with_same_id = event(webhooks.BOUNCED, "dup", hard_bounce=True, email="ev@example.test")
    outcome = events.record_provider_event(
        db, event=bounce_with_same_id, now=NOW, click_window_seconds=10
    )
    assert outcome == "duplicate"
    assert db.scalar(select(func.count()).select_from(EmailEvent)) == 1
    assert message.status == "delivered"
    assert not suppression.is_suppressed(db, email="ev@example.test")


def test_unmatched_hard_bounce_still_suppresses(db: Session, message: Intervention) -> None:
    stray = event(
        webhooks.BOUNCED,
        "stray",
        provider_message_id="unknown",
        hard_bounce=True,
        email="Stray@Example.test",
    )
    assert events.record_provider_event(db, event=stray, now=NOW, click_window_seconds=10) == (
        "unmatched"
    )
    assert suppression.is_suppressed(db, email="stray@example.test")
    assert message.status == "sent"


def test_bounce_after_a_human_open_does_not_fail_the_message(
    db: Session, message: Intervention
) -> None:
    opened = event(webhooks.OPENED, "o1", user_agent="Mozilla/5.0 (Windows NT 10.0) Chrome/124")
    events.record_provider_event(db, event=opened, now=NOW, click_window_seconds=10)
    late = event(webhooks.BOUNCED, "b1", hard_bounce=True, email="ev@example.test")
    events.record_provider_event(db, event=late, now=NOW, click_window_seconds=10)
    assert message.status == "opened"
    assert suppression.is_suppressed(db, email="ev@example.test")


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("sent", "delivered", "delivered"),
        ("opened", "delivered", "opened"),
        ("clicked", "opened", "clicked"),
        ("failed", "opened", "failed"),
        ("suppressed", "delivered", "suppressed"),
    ],
)
def test_advance_status(current: str, target: str, expected: str) -> None:
    assert events.advance_status(current, target) == expected
