"""Experiments and per-tutor assignments (exposure and conversion)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.clock import utcnow
from tutorpulse.core.db import Base, JSONType, UTCDateTime
from tutorpulse.core.models import TimestampMixin


class Experiment(TimestampMixin, Base):
    __tablename__ = "experiment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    hypothesis: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    variants: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    weights: Mapped[list[float]] = mapped_column(JSONType, nullable=False, default=list)
    target_segment: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    primary_metric: Mapped[str] = mapped_column(String(64), nullable=False)
    secondary_metrics: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    sample_size: Mapped[int | None] = mapped_column(Integer)
    holdout_fraction: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    significance: Mapped[float | None] = mapped_column(Float)
    winner: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(320))


class ExperimentAssignment(Base):
    __tablename__ = "experiment_assignment"
    __table_args__ = (UniqueConstraint("experiment_id", "tutor_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiment.id", ondelete="CASCADE"), nullable=False
    )
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), nullable=False, index=True
    )
    variant: Mapped[str] = mapped_column(String(64), nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    exposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversion_value: Mapped[float | None] = mapped_column(Float)
