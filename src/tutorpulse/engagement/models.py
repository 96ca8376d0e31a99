"""Engagement events, per-tutor daily rollups and the current health snapshot."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.clock import utcnow
from tutorpulse.core.db import Base, JSONType, UTCDateTime
from tutorpulse.tutors.vocabulary import EVENT_TYPES

__all__ = [
    "EVENT_TYPES",
    "EngagementEvent",
    "EngagementState",
    "PlatformDaily",
    "PlatformWeekly",
    "TutorDaily",
    "TutorDirty",
    "TutorHealth",
]


class EngagementEvent(Base):
    __tablename__ = "engagement_event"
    __table_args__ = (
        Index("ix_engagement_event_tutor_occurred", "tutor_id", "occurred_at"),
        Index("ix_engagement_event_type_occurred", "event_type", "occurred_at"),
        # The platform-wide event page (metrics?includeEvents) reads newest first.
        Index("ix_engagement_event_occurred", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Client-supplied event id or Idempotency-Key; a replay with the same key stores nothing.
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), nullable=False
    )
    event_type: Mapped[str] = mapped_column(String(50), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class TutorDaily(Base):
    """Additive per-tutor, per-local-day counters; the source of every windowed metric."""

    __tablename__ = "tutor_daily"
    __table_args__ = (Index("ix_tutor_daily_day", "day"),)

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    events: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_booked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_completed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tutor_no_shows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    student_no_shows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cancelled_by_tutor: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cancelled_by_student: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rescheduled_by_tutor: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rescheduled_by_student: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Sessions with a recorded outcome (any status but 'scheduled'), all cancellations and
    # all reschedules whoever (or whether anyone) is named as initiator.
    sessions_due: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_cancelled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_rescheduled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rating_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    satisfaction_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    satisfaction_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    engagement_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    engagement_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    empathy_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    empathy_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    clarity_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    clarity_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_sessions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_session_rating_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    first_session_rating_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    technical_issues: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    recommend_yes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    recommend_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    late_minutes_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    late_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class TutorHealth(Base):
    """The current health snapshot of one tutor, recomputed from rollups and raw rows."""

    __tablename__ = "tutor_health"
    __table_args__ = (
        Index("ix_tutor_health_churn_probability", "churn_probability"),
        Index("ix_tutor_health_risk_level", "churn_risk_level"),
        Index("ix_tutor_health_poor_first", "poor_first_session_flag"),
    )

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sessions_7d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_30d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    avg_rating_7d: Mapped[float | None] = mapped_column(Float)
    avg_rating_30d: Mapped[float | None] = mapped_column(Float)
    avg_engagement: Mapped[float | None] = mapped_column(Float)
    avg_empathy: Mapped[float | None] = mapped_column(Float)
    avg_clarity: Mapped[float | None] = mapped_column(Float)
    avg_satisfaction: Mapped[float | None] = mapped_column(Float)
    first_session_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_session_avg_rating: Mapped[float | None] = mapped_column(Float)
    poor_first_session_flag: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    recommendation_rate: Mapped[float | None] = mapped_column(Float)
    technical_issue_rate: Mapped[float | None] = mapped_column(Float)
    days_since_last_login: Mapped[int | None] = mapped_column(Integer)
    current_login_streak: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    longest_login_streak: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    logins_7d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    logins_30d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active_days_7d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active_days_30d: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_rate_30d: Mapped[float | None] = mapped_column(Float)
    tutor_no_show_rate_30d: Mapped[float | None] = mapped_column(Float)
    reschedule_rate_tutor_30d: Mapped[float | None] = mapped_column(Float)
    reschedule_rate_student_30d: Mapped[float | None] = mapped_column(Float)
    avg_late_minutes_30d: Mapped[float | None] = mapped_column(Float)
    churn_probability: Mapped[float | None] = mapped_column(Float)
    churn_risk_level: Mapped[str | None] = mapped_column(String(10))
    risk_drivers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONType, nullable=False, default=list
    )
    risk_model_version_id: Mapped[int | None] = mapped_column(Integer)
    priority_score: Mapped[float | None] = mapped_column(Float)
    # The tutor's local date the windows above end on; the refresh job recomputes a
    # snapshot once the tutor's local date has moved past it.
    local_day: Mapped[date | None] = mapped_column(Date, index=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_on: Mapped[date | None] = mapped_column(Date)
    first_active_on: Mapped[date | None] = mapped_column(Date)
    last_active_on: Mapped[date | None] = mapped_column(Date, index=True)
    first_completed_on: Mapped[date | None] = mapped_column(Date)
    # The last local day with a completed session (the no-sessions rules read it).
    last_completed_on: Mapped[date | None] = mapped_column(Date)
    sessions_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class TutorDirty(Base):
    """Tutors whose rollups and health must be recomputed from ``from_day`` on.

    Ingestion upserts a row (bumping ``version``); the refresh job deletes a row
    only if its version is unchanged, so a write that lands mid-refresh is kept.
    """

    __tablename__ = "tutor_dirty"

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), primary_key=True
    )
    from_day: Mapped[date] = mapped_column(Date, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PlatformDaily(Base):
    """Platform totals per (tutors') local day, derived from ``tutor_daily`` and events."""

    __tablename__ = "platform_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dau: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    wau: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    mau: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    events: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_completed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_booked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_due: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tutor_no_shows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    student_no_shows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_cancelled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions_rescheduled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rescheduled_by_tutor: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rescheduled_by_student: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rating_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    satisfaction_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    satisfaction_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    engagement_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    engagement_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    empathy_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    empathy_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    clarity_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    clarity_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # {event_type: count} and 24 hourly activity counts (events), both in local time.
    event_counts: Mapped[dict[str, int]] = mapped_column(JSONType, nullable=False, default=dict)
    hourly: Mapped[list[int]] = mapped_column(JSONType, nullable=False, default=list)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PlatformWeekly(Base):
    """Weekly lifecycle buckets of tutors (weeks start on Monday, local days)."""

    __tablename__ = "platform_weekly"

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    active_tutors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    new_tutors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    returning_tutors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    resurrecting_tutors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    dormant_tutors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class EngagementState(Base):
    """Small bookkeeping values of the refresh job (e.g. the platform's dirty-from day)."""

    __tablename__ = "engagement_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
