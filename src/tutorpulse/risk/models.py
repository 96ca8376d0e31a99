"""Trained risk models, per-session no-show scores (tutor, and student when a student
no-show model is active) and the daily history of churn scores."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.clock import utcnow
from tutorpulse.core.db import Base, JSONType, UTCDateTime


class ModelVersion(Base):
    __tablename__ = "model_version"
    __table_args__ = (Index("ix_model_version_target_active", "target", "is_active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(30), nullable=False)  # churn / tutor_no_show / …
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    algorithm: Mapped[str] = mapped_column(String(50), nullable=False)
    features: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    training_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    training_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    calibration: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class SessionRisk(Base):
    __tablename__ = "session_risk"
    __table_args__ = (Index("ix_session_risk_probability", "no_show_probability"),)

    session_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_session.id", ondelete="CASCADE"), primary_key=True
    )
    model_version_id: Mapped[int | None] = mapped_column(Integer)
    no_show_probability: Mapped[float] = mapped_column(Float, nullable=False)
    risk_level: Mapped[str] = mapped_column(String(10), nullable=False)
    drivers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    # Null when no student no-show model is active.
    student_no_show_probability: Mapped[float | None] = mapped_column(Float)
    student_risk_level: Mapped[str | None] = mapped_column(String(10))
    student_drivers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=list)
    student_model_version_id: Mapped[int | None] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ChurnScoreDaily(Base):
    """Each tutor's churn score as of the last scoring run of a UTC day, kept so that the
    alerts backtest can evaluate churn_risk_high with the scores known on a past day."""

    __tablename__ = "churn_score_daily"
    __table_args__ = (Index("ix_churn_score_daily_day", "day"),)

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    churn_probability: Mapped[float] = mapped_column(Float, nullable=False)
    churn_risk_level: Mapped[str] = mapped_column(String(10), nullable=False)
    model_version_id: Mapped[int | None] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
