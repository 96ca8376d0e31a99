"""POST /api/sessions: batch upsert by session id, validated like the file import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.api.conftest import NOW, Factory

from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorDirty
from tutorpulse.sessions.models import TutorSession


@pytest.fixture
def ingest(client: TestClient, api_key: Callable[..., str]) -> TestClient:
    client.headers["Authorization"] = f"Bearer {api_key('ingest')}"
    return client


def _session(sid: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sessionId": sid,
        "tutorId": "T0001",
        "studentId": "S00001",
        "subject": "Math",
        "scheduledStart": (NOW + timedelta(days=1)).isoformat(),
        "scheduledMinutes": 60,
        "status": "scheduled",
    }
    body.update(fields)
    return body


@pytest.fixture
def people(factory: Factory) -> None:
    factory.tutor("T0001")
    factory.student("S00001")
    factory.student("S00002")


def _count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(TutorSession)) or 0)


def test_booking_then_outcome_is_an_upsert(ingest: TestClient, people: None, db: Session) -> None:
    first = ingest.post("/api/sessions", json={"sessions": [_session("X1")]})
    assert first.status_code == 200, first.text
    assert first.json() == {"success": True, "received": 1, "created": 1, "updated": 0,
                                  "unchanged": 0, "derivedFirstSessions": 1}  # fmt: skip
    done = _session("X1", scheduledStart=(NOW - timedelta(hours=2)).isoformat(),
                    status="completed", studentRating=4, engagementScore=7.5)  # fmt: skip
    second = ingest.post("/api/sessions", json={"sessions": [done]})
    assert (second.json()["created"], second.json()["updated"]) == (0, 1)
    again = ingest.post("/api/sessions", json=[done])  # a bare array works too
    assert again.json()["unchanged"] == 1
    row = db.scalar(select(TutorSession).where(TutorSession.external_id == "X1"))
    assert row is not None
    assert (row.status, row.student_rating, row.is_first_session) == ("completed", 4, True)
    dirty = db.scalar(select(TutorDirty))
    assert dirty is not None
    assert dirty.from_day <= (NOW - timedelta(hours=2)).date()  # the moved booking's old day too


def test_reschedule_by_tutor_and_first_session_rederived(
    ingest: TestClient, people: None, db: Session
) -> None:
    early = _session("X1", scheduledStart=(NOW - timedelta(days=3)).isoformat(), status="completed")
    later = _session("X2", scheduledStart=(NOW - timedelta(days=1)).isoformat(), status="completed")
    ingest.post("/api/sessions", json={"sessions": [later]})
    ingest.post("/api/sessions", json={"sessions": [early]})
    flags = dict(db.execute(select(TutorSession.external_id, TutorSession.is_first_session)).all())
    assert flags == {"X1": True, "X2": False}
    moved = _session("X1", scheduledStart=(NOW - timedelta(days=3)).isoformat(),
                     status="rescheduled", rescheduledBy="tutor")  # fmt: skip
    assert ingest.post("/api/sessions", json={"sessions": [moved]}).status_code == 200
    db.expire_all()
    flags = dict(db.execute(select(TutorSession.external_id, TutorSession.is_first_session)).all())
    assert flags == {"X1": False, "X2": True}  # a rescheduled booking never took place
    row = db.scalar(select(TutorSession).where(TutorSession.external_id == "X1"))
    assert row is not None
    assert row.rescheduled_by == "tutor"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tutorId": "T9999"}, "sessions[1].tutor_id"),
        ({"studentRating": 9, "status": "completed"}, "sessions[1].student_rating"),
        ({"scheduledStart": "next tuesday"}, "sessions[1].scheduled_start"),
        ({"status": "teleported"}, "sessions[1].status"),
        ({"rescheduledBy": "tutor"}, "sessions[1].rescheduled_by"),
        ({"sessionId": "X1"}, "sessions[1].session_id"),
        ({"scheduledMinutes": None}, "sessions[1].scheduled_minutes"),
    ],
)
def test_one_bad_row_rejects_the_request_naming_the_field(
    ingest: TestClient, people: None, db: Session, change: dict[str, Any], field: str
) -> None:
    batch = [_session("X1"), _session("X2", **change)]
    response = ingest.post("/api/sessions", json={"sessions": batch})
    assert response.status_code == 400, response.text
    fields = [d["field"] for d in response.json()["details"]]
    assert field in fields
    assert _count(db) == 0


def test_shape_errors_and_limits(
    ingest: TestClient, people: None, db: Session, settings: Settings
) -> None:
    assert ingest.post("/api/sessions", json={"rows": []}).status_code == 400
    assert ingest.post("/api/sessions", json={"sessions": ["x"]}).status_code == 400
    too_many = [_session(f"X{i}") for i in range(settings.ingest_max_batch + 1)]
    assert ingest.post("/api/sessions", json={"sessions": too_many}).status_code == 413
    assert _count(db) == 0


def test_needs_ingest_or_write(
    client: TestClient, api_key: Callable[..., str], people: None
) -> None:
    body = {"sessions": [_session("X1")]}
    assert client.post("/api/sessions", json=body).status_code == 401
    read = {"Authorization": f"Bearer {api_key('read')}"}
    assert client.post("/api/sessions", json=body, headers=read).status_code == 403
