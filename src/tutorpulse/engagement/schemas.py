"""OpenAPI shapes of the engagement API (camelCase, as the original platform)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class TrackRequest(_Model):
    tutorId: str = Field(description='The tutor\'s id, e.g. "T0001".')  # noqa: N815
    eventType: str = Field(description="One of the configured event types (EVENT_TYPES).")  # noqa: N815
    eventData: dict[str, Any] | None = Field(None, description="Any JSON object (size-bounded).")  # noqa: N815
    timestamp: str | None = Field(
        None, description="ISO-8601 with offset or Z; default now; at most the skew in the future."
    )
    eventId: str | None = Field(  # noqa: N815
        None, description="Idempotency key; the Idempotency-Key header works the same."
    )


class BatchTrackRequest(_Model):
    events: list[TrackRequest] = Field(description="Up to INGEST_MAX_BATCH (1,000) events.")


class TrackedEvent(_Model):
    id: int
    tutorId: str  # noqa: N815
    eventType: str  # noqa: N815
    timestamp: datetime


class TrackResponse(_Model):
    success: bool
    event: TrackedEvent


class BatchItem(_Model):
    index: int
    status: int = Field(description="201 stored, 200 duplicate (replay), 400/404/409 rejected.")
    event: TrackedEvent | None = None
    duplicate: bool | None = None
    error: str | None = None
    details: list[dict[str, Any]] | None = None


class BatchTrackResponse(_Model):
    success: bool = Field(description="True when no item was rejected.")
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchItem]


class TimelineEvent(_Model):
    id: int
    timestamp: datetime
    eventType: str  # noqa: N815
    eventData: dict[str, Any]  # noqa: N815


class Timeline(_Model):
    events: list[TimelineEvent]
    count: int
    nextCursor: str | None  # noqa: N815


class Window(_Model):
    start: date
    end: date


class EngagementMetrics(_Model):
    metricType: str  # noqa: N815
    value: float
    previousValue: float | None  # noqa: N815
    trend: str
    percentChange: float | None  # noqa: N815
    currentPeriodCount: int  # noqa: N815
    previousPeriodCount: int  # noqa: N815
    window: Window
    previousWindow: Window  # noqa: N815
    events: list[dict[str, Any]] | None = None
    eventsNextCursor: str | None = None  # noqa: N815
    platform: dict[str, Any] | None = Field(
        None, description="DAU/WAU/MAU, stickiness, activation, streaks, lifecycle (no tutorId)."
    )
