"""Discovered patterns, with the statistics that support them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.clock import utcnow
from tutorpulse.core.db import Base, JSONType, UTCDateTime


class PatternInsight(Base):
    __tablename__ = "pattern_insight"
    __table_args__ = (Index("ix_pattern_insight_status_confidence", "status", "confidence_score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern_type: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    affected_tutor_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    affected_tutor_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    correlations: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    method: Mapped[str | None] = mapped_column(String(200))
    statistical_significance: Mapped[float | None] = mapped_column(Float)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    ai_generated_recommendation: Mapped[str | None] = mapped_column(Text)
    ai_model: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(50))
    analyzed_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    analyzed_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    action_taken: Mapped[str | None] = mapped_column(Text)
    action_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
