"""The engagement repository's driver-level writes store exactly what the ORM reads back."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tutorpulse.core.db import in_list
from tutorpulse.engagement import repository as repo
from tutorpulse.engagement.models import EngagementEvent, TutorDirty, TutorHealth
from tutorpulse.tutors.models import Tutor

NOW = datetime(2026, 3, 8, 6, 30, 15, 123456, tzinfo=UTC)


def _tutors(db: Session, n: int) -> list[int]:
    for i in range(n):
        db.add(Tutor(external_id=f"W{i:03d}", email=f"w{i}@example.test", name=f"W {i}",
                     timezone="UTC", subjects=["Math"], primary_subject="Math",
                     joined_on=date(2025, 1, 1), status="active"))  # fmt: skip
    db.flush()
    return list(db.scalars(select(Tutor.id).order_by(Tutor.external_id)))


def _health_frame(ids: list[int]) -> pd.DataFrame:
    rows = []
    for k, tutor_id in enumerate(ids):
        row: dict[str, object] = dict.fromkeys(repo.HEALTH_FIELDS)
        row.update(
            tutor_id=tutor_id, sessions_7d=k, sessions_30d=3 * k, first_session_count=k % 2,
            sessions_total=10 + k, current_login_streak=k, longest_login_streak=2 * k,
            logins_7d=k, logins_30d=k + 1, active_days_7d=k, active_days_30d=k,
            poor_first_session_flag=bool(k % 2),
            avg_rating_7d=None if k == 0 else 4.25 + k / 1000,
            avg_rating_30d=float("nan") if k == 1 else 3.5,
            days_since_last_login=float("nan") if k == 0 else float(k),
            local_day=date(2026, 3, 8), last_login_on=None if k == 0 else date(2026, 3, 8 - k),
            last_login_at=pd.NaT if k == 0 else pd.Timestamp(NOW - timedelta(days=k, microseconds=7)),
        )  # fmt: skip
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["last_login_at"] = pd.to_datetime(frame["last_login_at"], utc=True)
    return frame


def test_upsert_health_round_trips_every_kind_of_value_and_keeps_risk_fields(db: Session) -> None:
    ids = _tutors(db, 3)
    repo.upsert_health(db, _health_frame(ids), NOW)
    db.expire_all()
    stored = {h.tutor_id: h for h in db.scalars(select(TutorHealth))}
    assert sorted(stored) == ids
    first, second, third = (stored[i] for i in ids)
    assert first.avg_rating_7d is None
    assert first.days_since_last_login is None
    assert first.last_login_at is None
    assert first.last_login_on is None
    assert second.avg_rating_30d is None  # NaN stored as NULL
    assert math.isclose(second.avg_rating_7d or 0, 4.251)
    assert second.poor_first_session_flag is True
    assert third.poor_first_session_flag is False
    assert third.last_login_at == NOW - timedelta(days=2, microseconds=7)
    assert third.last_login_on == date(2026, 3, 6)
    assert third.local_day == date(2026, 3, 8)
    assert third.as_of == NOW
    assert third.computed_at == NOW
    assert (third.sessions_30d, third.longest_login_streak, third.days_since_last_login) == (
        6,
        4,
        2,
    )
    assert third.risk_drivers == []

    # An update rewrites the health fields and leaves the risk model's fields alone.
    third.churn_probability, third.risk_drivers, third.priority_score = 0.7, [{"f": 1}], 55.0
    db.flush()
    frame = _health_frame(ids)
    frame.loc[2, "sessions_30d"] = 99
    repo.upsert_health(db, frame, NOW + timedelta(minutes=1))
    db.expire_all()
    again = db.get(TutorHealth, ids[2])
    assert again is not None
    assert again.sessions_30d == 99
    assert again.computed_at == NOW + timedelta(minutes=1)
    assert (again.churn_probability, again.risk_drivers, again.priority_score) == (
        0.7, [{"f": 1}], 55.0
    )  # fmt: skip


def test_event_inserts_marks_and_logins_by_driver_statements(db: Session) -> None:
    ids = _tutors(db, 3)
    at = NOW - timedelta(hours=1)
    rows = [
        {"external_id": f"k{i}", "tutor_id": ids[i % 3], "event_type": "login",
         "occurred_at": at + timedelta(seconds=i), "data": {"n": i} if i else {},
         "received_at": NOW}
        for i in range(5)
    ]  # fmt: skip
    new_ids = repo.insert_events(db, rows)
    stored = {e.id: e for e in db.scalars(select(EngagementEvent))}
    assert sorted(stored) == sorted(new_ids)
    assert len(set(new_ids)) == 5
    for row, new_id in zip(rows, new_ids, strict=True):  # ids come back in row order
        event = stored[new_id]
        assert (event.external_id, event.tutor_id, event.occurred_at, event.data) == (
            row["external_id"], row["tutor_id"], row["occurred_at"], row["data"]
        )  # fmt: skip
        assert event.received_at == NOW

    # Marks: one per tutor, the earliest day wins, a second mark bumps the version.
    repo.mark_dirty(db, [(ids[0], date(2026, 3, 5)), (ids[0], date(2026, 3, 3)),
                         (ids[1], date(2026, 3, 7))], NOW)  # fmt: skip
    repo.mark_dirty(db, [(ids[1], date(2026, 3, 6))], NOW)
    marks = {m.tutor_id: (m.from_day, m.version) for m in db.scalars(select(TutorDirty))}
    assert marks == {ids[0]: (date(2026, 3, 3), 1), ids[1]: (date(2026, 3, 6), 2)}

    # Last logins only move forward.
    repo.raise_last_logins(db, [(ids[0], at), (ids[1], at)], NOW)
    repo.raise_last_logins(db, [(ids[0], at - timedelta(days=1)), (ids[1], at + timedelta(1))], NOW)
    db.expire_all()
    logins = {t.id: t.last_login_at for t in db.scalars(select(Tutor))}
    assert logins == {ids[0]: at, ids[1]: at + timedelta(days=1), ids[2]: None}


def test_in_list_binds_one_parameter_and_selects_exactly_the_listed_rows(db: Session) -> None:
    ids = _tutors(db, 4)
    conn = db.connection()
    dialect = conn.dialect.name
    clause, value = in_list(dialect, "id", "p", [ids[0], ids[2]])
    assert isinstance(value, str)
    found = {
        int(r[0]) for r in conn.execute(text(f"SELECT id FROM tutor WHERE {clause}"), {"p": value})
    }
    assert found == {ids[0], ids[2]}
    names = ["W001", "W003", 'it\'s "quoted"', "no such"]
    clause, value = in_list(dialect, "external_id", "p", names)
    found_names = {
        r[0]
        for r in conn.execute(text(f"SELECT external_id FROM tutor WHERE {clause}"), {"p": value})
    }
    assert found_names == {"W001", "W003"}
    clause, value = in_list(dialect, "id", "p", [])
    assert list(conn.execute(text(f"SELECT id FROM tutor WHERE {clause}"), {"p": value})) == []
