from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.core.db import SQLITE_WAL_AUTOCHECKPOINT_PAGES, make_session_factory, read_aside
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


def _audit(name: str) -> AuditLog:
    return AuditLog(
        actor_type="system", actor_name=name, action="x", at=datetime(2025, 1, 2, tzinfo=UTC)
    )


def test_read_aside_reads_committed_rows_on_its_own_connection(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    factory = make_session_factory(fresh_engine)
    with factory() as writer:
        writer.add(_audit("a"))
        writer.commit()
    threads: list[str] = []

    def read(side: Session) -> list[str]:
        threads.append(threading.current_thread().name)
        return list(side.scalars(select(AuditLog.actor_name)))

    with factory() as db:
        db.add(_audit("pending"))
        db.flush()
        # Another connection: the committed row, not this session's uncommitted one.
        assert read_aside(db, read)() == ["a"]
        db.rollback()
    assert threads[0].startswith("read-aside")


def test_read_aside_on_a_connection_bound_session_reads_inline(db: Session) -> None:
    db.add(_audit("pending"))
    db.flush()
    assert read_aside(db, lambda s: list(s.scalars(select(AuditLog.actor_name))))() == ["pending"]


def test_connections_are_configured_for_the_engine(engine: Engine) -> None:
    """SQLite checkpoints its log every 10,000 pages; PostgreSQL plans every execution
    for its parameter values (no generic plan kept from when a table was small)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            value = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            assert value == SQLITE_WAL_AUTOCHECKPOINT_PAGES
        else:
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one()
            assert mode == "force_custom_plan"
