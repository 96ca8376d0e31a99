"""Tutoring sessions (bookings and their outcomes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.db import Base, UTCDateTime
from tutorpulse.core.models import TimestampMixin
from tutorpulse.tutors.vocabulary import INITIATOR as INITIATORS
from tutorpulse.tutors.vocabulary import SESSION_STATUSES

__all__ = ["INITIATORS", "SESSION_STATUSES", "TutorSession"]


class TutorSession(TimestampMixin, Base):
    __tablename__ = "tutor_session"
    __table_args__ = (
        Index("ix_tutor_session_tutor_start", "tutor_id", "scheduled_start"),
        Index("ix_tutor_session_start", "scheduled_start"),
        Index("ix_tutor_session_student", "student_id"),
        # First sessions are few and queried often (poor-first-session counts):
        # a covering partial index answers those queries without touching rows.
        # The predicate is spelled as SQLAlchemy renders ``is_first_session == true()``
        # so the planners can match it.
        Index(
            "ix_tutor_session_first",
            "tutor_id",
            "status",
            "student_rating",
            sqlite_where=text("is_first_session = 1"),
            postgresql_where=text("is_first_session = true"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), nullable=False
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("student.id", ondelete="CASCADE"), nullable=False
    )
    subject: Mapped[str | None] = mapped_column(String(64))
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    scheduled_minutes: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    cancelled_by: Mapped[str | None] = mapped_column(String(10))
    rescheduled_by: Mapped[str | None] = mapped_column(String(10))
    is_first_session: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # True when is_first_session was derived from the first pairing, not supplied.
    first_session_derived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    student_rating: Mapped[int | None] = mapped_column(SmallInteger)
    student_satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    engagement_score: Mapped[float | None] = mapped_column(Float)
    empathy_score: Mapped[float | None] = mapped_column(Float)
    clarity_score: Mapped[float | None] = mapped_column(Float)
    technical_issue: Mapped[bool | None] = mapped_column(Boolean)
    would_recommend: Mapped[bool | None] = mapped_column(Boolean)
    rebooked: Mapped[bool | None] = mapped_column(Boolean)
