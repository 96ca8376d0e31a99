from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core.models import AuditLog


def test_timestamps_round_trip_as_utc(db: Session) -> None:
    local = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5)))
    row = AuditLog(at=local, actor_type="system", actor_name="test", action="probe")
    db.add(row)
    db.flush()
    db.expire_all()
    stored = db.scalar(select(AuditLog.at).where(AuditLog.id == row.id))
    assert stored == local
    assert stored is not None
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored.astimezone(UTC).hour == 20


def test_rows_do_not_leak_between_tests(db: Session) -> None:
    assert db.scalar(select(AuditLog).where(AuditLog.action == "probe")) is None
