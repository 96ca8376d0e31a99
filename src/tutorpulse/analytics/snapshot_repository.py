"""Queries of the stored analytics results (``analytics_snapshot``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tutorpulse.analytics.models import AnalyticsSnapshot


def computed_at(db: Session, key: str) -> datetime | None:
    """When the stored result for ``key`` was computed (primary-key look-up), or None."""
    return db.scalar(select(AnalyticsSnapshot.computed_at).where(AnalyticsSnapshot.key == key))


def load(db: Session, key: str) -> tuple[datetime, Any] | None:
    row = db.execute(
        select(AnalyticsSnapshot.computed_at, AnalyticsSnapshot.payload).where(
            AnalyticsSnapshot.key == key
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def store(db: Session, *, key: str, payload: Any, computed_at: datetime, seconds: float) -> None:
    """Replace the stored result for ``key`` (flushes; the caller commits)."""
    db.execute(delete(AnalyticsSnapshot).where(AnalyticsSnapshot.key == key))
    db.add(
        AnalyticsSnapshot(
            key=key, payload=payload, computed_at=computed_at, compute_seconds=seconds
        )
    )
    db.flush()


def list_all(db: Session) -> list[tuple[str, datetime, float]]:
    rows = db.execute(
        select(
            AnalyticsSnapshot.key, AnalyticsSnapshot.computed_at, AnalyticsSnapshot.compute_seconds
        ).order_by(AnalyticsSnapshot.key)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]
