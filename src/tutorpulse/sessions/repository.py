"""Queries over tutoring sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor


def list_sessions_for_tutor(
    db: Session, *, tutor_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A tutor's sessions, latest scheduled start first (one page), and their total count."""
    total = db.scalar(
        select(func.count()).select_from(TutorSession).where(TutorSession.tutor_id == tutor_id)
    )
    rows = db.execute(
        select(
            TutorSession.external_id.label("session_id"),
            Tutor.external_id.label("tutor_id"),
            Student.external_id.label("student_id"),
            TutorSession.subject,
            TutorSession.scheduled_start,
            TutorSession.scheduled_minutes,
            TutorSession.status,
            TutorSession.cancelled_by,
            TutorSession.rescheduled_by,
            TutorSession.is_first_session,
            TutorSession.student_rating,
            TutorSession.student_satisfaction,
            TutorSession.engagement_score,
            TutorSession.technical_issue,
        )
        .join(Tutor, Tutor.id == TutorSession.tutor_id)
        .join(Student, Student.id == TutorSession.student_id)
        .where(TutorSession.tutor_id == tutor_id)
        .order_by(TutorSession.scheduled_start.desc(), TutorSession.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], int(total or 0)
