"""Suppression list service and the deliverability summary, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.core.models import AuditLog
from tutorpulse.email import deliverability, suppression
from tutorpulse.email.models import EmailEvent
from tutorpulse.interventions.models import Intervention
from tutorpulse.tutors.models import Tutor

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
COACH = Actor(kind="user", id=7, name="coach@example.test", role="coach", scopes=frozenset())


def test_addresses_are_normalised_and_added_once(db: Session) -> None:
    row, created = suppression.add_suppression(
        db, email="  Ana@Example.TEST ", reason="unsubscribe", now=NOW, source="page"
    )
    assert created
    assert row.email == "ana@example.test"
    again, created_again = suppression.add_suppression(
        db, email="ana@example.test", reason="manual", now=NOW, actor=COACH
    )
    assert not created_again
    assert again.id == row.id
    assert again.reason == "unsubscribe"  # the first reason is kept
    assert suppression.is_suppressed(db, email="ANA@example.test")
    assert not suppression.is_suppressed(db, email="bo@example.test")
    assert suppression.suppressed_among(db, emails=["ANA@example.test", "bo@example.test"]) == {
        "ana@example.test"
    }


@pytest.mark.parametrize("bad", ["", "ana", "ana@", "@example.test", "ana@example", "a b@x.test"])
def test_invalid_addresses_are_refused(db: Session, bad: str) -> None:
    with pytest.raises(Invalid) as caught:
        suppression.add_suppression(db, email=bad, reason="manual", now=NOW)
    assert caught.value.details[0].field == "email"


def test_unknown_reason_is_refused(db: Session) -> None:
    with pytest.raises(Invalid, match="reason"):
        suppression.add_suppression(db, email="a@x.test", reason="spite", now=NOW)


def test_manual_add_and_remove_are_audited(db: Session) -> None:
    suppression.add_suppression(
        db, email="cy@example.test", reason="manual", note="asked by phone", now=NOW, actor=COACH
    )
    removed = suppression.remove_suppression(db, email="CY@example.test", actor=COACH)
    assert removed.email == "cy@example.test"
    assert not suppression.is_suppressed(db, email="cy@example.test")
    actions = [
        (a.action, a.target_id, a.actor_name)
        for a in db.scalars(select(AuditLog).order_by(AuditLog.id))
    ]
    assert actions == [
        ("email.suppression.add", "cy@example.test", "coach@example.test"),
        ("email.suppression.remove", "cy@example.test", "coach@example.test"),
    ]
    with pytest.raises(NotFound):
        suppression.remove_suppression(db, email="cy@example.test", actor=COACH)


def test_list_filters_and_pages(db: Session) -> None:
    for i, reason in enumerate(["bounce", "bounce", "complaint", "manual", "unsubscribe"]):
        suppression.add_suppression(
            db,
            email=f"user{i}@example.test",
            reason=reason,
            now=NOW + timedelta(minutes=i),
            note="100% sure_" if i == 3 else None,
        )
    page = suppression.list_suppressions(db, limit=2, offset=0)
    assert page.total == 5
    assert [r.email for r in page.items] == ["user4@example.test", "user3@example.test"]
    bounces = suppression.list_suppressions(db, reason="bounce", limit=10, offset=0)
    assert {r.email for r in bounces.items} == {"user0@example.test", "user1@example.test"}
    assert suppression.list_suppressions(db, q="USER2", limit=10, offset=0).total == 1
    # LIKE wildcards in the search are literal characters.
    assert suppression.list_suppressions(db, q="%", limit=10, offset=0).total == 1
    assert suppression.list_suppressions(db, q="_", limit=10, offset=0).total == 1
    assert suppression.count_by_reason(db) == {
        "unsubscribe": 1,
        "bounce": 2,
        "complaint": 1,
        "manual": 1,
    }


# --- deliverability -------------------------------------------------------------------------


def _tutor(db: Session) -> Tutor:
    tutor = Tutor(
        external_id="T9001",
        email="t@example.test",
        name="T",
        subjects=["Math"],
        primary_subject="Math",
        certification_level="basic",
        joined_on=date(2024, 1, 1),
        status="active",
    )
    db.add(tutor)
    db.flush()
    return tutor


def _message(db: Session, tutor: Tutor, n: int, sent_at: datetime | None, **fields: Any) -> int:
    row = Intervention(
        idempotency_key=f"d-{n}",
        tutor_id=tutor.id,
        intervention_type="re_engagement",
        to_email=f"r{n}@example.test",
        status=fields.pop("status", "sent"),
        sent_at=sent_at,
        **fields,
    )
    db.add(row)
    db.flush()
    return row.id


def _event(db: Session, iid: int, kind: str, *, machine: bool = False) -> None:
    db.add(EmailEvent(intervention_id=iid, event_type=kind, occurred_at=NOW, is_machine=machine))
    db.flush()


def test_deliverability_counts_messages_and_separates_machines(db: Session) -> None:
    tutor = _tutor(db)
    day = timedelta(days=1)
    a = _message(db, tutor, 1, NOW - 1 * day, delivered_at=NOW - day)
    b = _message(db, tutor, 2, NOW - 2 * day, delivered_at=NOW - day)
    c = _message(db, tutor, 3, NOW - 3 * day, status="failed")
    d = _message(db, tutor, 4, NOW - 3 * day)
    _message(db, tutor, 5, NOW - 40 * day)  # outside a 30-day window
    _message(db, tutor, 6, None, status="pending")  # never sent
    _event(db, a, "opened")
    _event(db, a, "opened")  # the same message opened twice counts once
    _event(db, a, "opened", machine=True)
    _event(db, a, "clicked")
    _event(db, b, "opened", machine=True)  # only a proxy fetched it
    _event(db, b, "clicked", machine=True)
    _event(db, c, "bounced")
    _event(db, d, "complained")
    _event(db, d, "unsubscribed")

    s = deliverability.compute_deliverability(db, now=NOW, days=30)
    assert (s.sent, s.delivered, s.bounced, s.complained, s.failed) == (4, 2, 1, 1, 1)
    assert (s.human_opened, s.machine_only_opened) == (1, 1)
    assert (s.human_clicked, s.machine_only_clicked) == (1, 1)
    assert (s.machine_open_events, s.machine_click_events) == (2, 1)
    assert s.unsubscribed == 1
    assert s.rate(s.human_opened) == pytest.approx(0.25)
    assert s.rate(s.bounced) == pytest.approx(0.25)
    by_day = {d.day: d for d in s.daily}
    assert len(s.daily) == 31
    assert by_day[(NOW - 3 * day).date()].sent == 2
    assert by_day[(NOW - 1 * day).date()].human_opened == 1
    assert sum(x.sent for x in s.daily) == 4

    wide = deliverability.compute_deliverability(db, now=NOW, days=90)
    assert wide.sent == 5
    empty = deliverability.compute_deliverability(db, now=NOW - 100 * day, days=7)
    assert empty.sent == 0
    assert empty.rate(0) is None
