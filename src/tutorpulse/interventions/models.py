"""Campaigns and interventions (one message to one tutor; also the email outbox row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.db import Base, JSONType, UTCDateTime
from tutorpulse.core.models import TimestampMixin

INTERVENTION_STATUSES = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "responded",
    "failed",
    "suppressed",
    "cancelled",
)


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    segment: Mapped[str | None] = mapped_column(String(64))
    targeting: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    template_key: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment.id", ondelete="SET NULL")
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(320))
    approved_by: Mapped[str | None] = mapped_column(String(320))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audience_estimate: Mapped[int | None] = mapped_column(Integer)
    audience_actual: Mapped[int | None] = mapped_column(Integer)


class Intervention(TimestampMixin, Base):
    __tablename__ = "intervention"
    __table_args__ = (
        Index("ix_intervention_status_next", "status", "next_attempt_at"),
        Index("ix_intervention_tutor_created", "tutor_id", "created_at"),
        Index("ix_intervention_campaign", "campaign_id"),
        Index("ix_intervention_experiment", "experiment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique per message: the guarantee that nothing is sent twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor.id", ondelete="CASCADE"), nullable=False
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment.id", ondelete="SET NULL")
    )
    experiment_variant: Mapped[str | None] = mapped_column(String(64))
    intervention_type: Mapped[str] = mapped_column(String(50), nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="email")
    template_key: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    to_email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    content_html: Mapped[str | None] = mapped_column(Text)
    content_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_type: Mapped[str | None] = mapped_column(String(20))
    response_notes: Mapped[str | None] = mapped_column(Text)
    engagement_before: Mapped[float | None] = mapped_column(Float)
    engagement_after: Mapped[float | None] = mapped_column(Float)
    sessions_before_count: Mapped[int | None] = mapped_column(Integer)
    sessions_after_count: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(320))
