"""Email events (delivery, opens, clicks, bounces …) and the suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.clock import utcnow
from tutorpulse.core.db import Base, JSONType, UTCDateTime


class EmailEvent(Base):
    __tablename__ = "email_event"
    __table_args__ = (Index("ix_email_event_intervention_type", "intervention_id", "event_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intervention_id: Mapped[int | None] = mapped_column(
        ForeignKey("intervention.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(30), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    provider: Mapped[str | None] = mapped_column(String(20))
    # Provider's own event id: a duplicate webhook delivery is recognised and ignored.
    provider_event_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    is_machine: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    user_agent: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)


class Suppression(Base):
    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    reason: Mapped[str] = mapped_column(
        String(30), nullable=False
    )  # unsubscribe/bounce/complaint/manual
    source: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(320))
