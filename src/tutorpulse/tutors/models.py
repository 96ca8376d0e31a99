"""Tutors and students. ``external_id`` is the business key clients use ("T0001")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.db import Base, JSONType, UTCDateTime
from tutorpulse.core.models import TimestampMixin
from tutorpulse.tutors.vocabulary import CERTIFICATION_LEVELS, GRADE_LEVELS, TUTOR_STATUSES

__all__ = ["CERTIFICATION_LEVELS", "GRADE_LEVELS", "TUTOR_STATUSES", "Student", "Tutor"]


class Tutor(TimestampMixin, Base):
    __tablename__ = "tutor"
    __table_args__ = (
        Index("ix_tutor_status_primary_subject", "status", "primary_subject"),
        Index("ix_tutor_joined_on", "joined_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    subjects: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    primary_subject: Mapped[str | None] = mapped_column(String(64))
    certification_level: Mapped[str | None] = mapped_column(String(20))
    joined_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Never moves backwards: ingestion only ever raises it.
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Student(TimestampMixin, Base):
    __tablename__ = "student"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    grade_level: Mapped[str | None] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
