"""Session ingestion over the API: batch upsert by session id, validated like the file import.

The rows go through the data contract's validation (``tutors.service`` exposes the
importer's parser and writer), so an API client and a CSV file get exactly the
same rules and messages. A request is all-or-nothing: one bad item rejects the
batch with every problem listed, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core.errors import ErrorDetail, Invalid, PayloadTooLarge
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import service as engagement_service
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import service as tutors_service


@dataclass(frozen=True)
class SessionIngestResult:
    received: int
    created: int
    updated: int
    unchanged: int
    derived_first_sessions: int


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def record_sessions(
    db: Session, *, items: Sequence[Any], now: datetime, settings: Settings
) -> SessionIngestResult:
    """Upsert sessions by ``sessionId``; raises ``Invalid`` listing every bad field."""
    if len(items) > settings.ingest_max_batch:
        raise PayloadTooLarge(
            f"{len(items)} sessions in one request; at most {settings.ingest_max_batch} accepted"
        )
    if not items:
        return SessionIngestResult(0, 0, 0, 0, 0)
    details: list[ErrorDetail] = []
    rows: list[dict[str, str | None]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            details.append(ErrorDetail(f"sessions[{index}]", "must be a JSON object"))
            rows.append({})
            continue
        rows.append({str(k): _as_text(v) for k, v in item.items()})
    parsed = tutors_service.parse_session_rows(db, rows)
    errors = parsed.errors.frame()
    for row, field, reason in zip(errors["row"], errors["field"], errors["reason"], strict=True):
        where = "sessions" if row < 0 else f"sessions[{int(row)}]"
        details.append(ErrorDetail(f"{where}.{field}", str(reason)))
    if details:
        raise Invalid(
            f"{len({(d.field or '').split('.')[0] for d in details})} of {len(items)} sessions are "
            "invalid; nothing was stored",
            details,
        )
    frame = parsed.frame
    previous = _previous_starts(db, frame["session_id"].astype(str).tolist())
    written = tutors_service.write_session_rows(db, frame, now=now)
    marks = _dirty_marks(db, frame, previous)
    for tutor_id, first_start in _pair_starts(db, frame).items():
        day = (first_start - timedelta(days=1)).date()
        if day < marks.get(tutor_id, day + timedelta(days=1)):
            marks[tutor_id] = day
    engagement_service.mark_tutors_dirty(db, marks=marks.items(), now=now)
    inserted, updated = written.result.inserted, written.result.updated
    return SessionIngestResult(
        received=len(items),
        created=inserted,
        updated=updated,
        unchanged=len(items) - inserted - updated,
        derived_first_sessions=written.derived_first_sessions,
    )


def _previous_starts(db: Session, external_ids: list[str]) -> dict[str, tuple[int, datetime]]:
    rows = db.execute(
        select(TutorSession.external_id, TutorSession.tutor_id, TutorSession.scheduled_start).where(
            TutorSession.external_id.in_(external_ids)
        )
    ).all()
    return {str(e): (int(t), s) for e, t, s in rows}


def _pair_starts(db: Session, frame: Any) -> dict[int, datetime]:
    """Per tutor, the earliest session with any student of this batch.

    Deriving first-session flags may flip an older session of the same pair, so
    the rollups of that tutor are recomputed from the pair's first session on.
    """
    pairs = sorted(
        set(zip(frame["tutor_id"].astype(str), frame["student_id"].astype(str), strict=True))
    )
    found = tutors_service.first_pair_starts(db, pairs)
    return found


def _dirty_marks(
    db: Session, frame: Any, previous: dict[str, tuple[int, datetime]]
) -> dict[int, date]:
    """Per tutor, the earliest day whose rollups may have changed (old or new start)."""
    ids = tutors_service.tutor_ids_for(db, sorted(set(frame["tutor_id"].astype(str))))
    marks: dict[int, date] = {}

    def mark(tutor_id: int, start: datetime) -> None:
        day = (start - timedelta(days=1)).date()
        if tutor_id not in marks or day < marks[tutor_id]:
            marks[tutor_id] = day

    for ext, tutor, start in zip(
        frame["session_id"].astype(str), frame["tutor_id"].astype(str), frame["scheduled_start"],
        strict=True,
    ):  # fmt: skip
        mark(ids[tutor], start.to_pydatetime())
        if ext in previous:
            old_tutor, old_start = previous[ext]
            mark(old_tutor, old_start)
    return marks
