"""Stored analytics results: the default view of each endpoint, computed by a job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.db import Base, UTCDateTime

__all__ = ["AnalyticsSnapshot"]


class AnalyticsSnapshot(Base):
    """One endpoint view's JSON result as of ``computed_at`` (written by ``analytics.warm``).

    Plain ``JSON`` (not JSONB) on PostgreSQL: the payload is only ever read whole, and
    JSON keeps the key order the API returns.
    """

    __tablename__ = "analytics_snapshot"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    payload: Mapped[Any] = mapped_column(JSON, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    compute_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0)
