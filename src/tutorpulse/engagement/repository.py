"""Every query of the engagement domain's rollups: raw reads, rollup writes, dirty marks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from tutorpulse.core.db import UTCDateTime, in_list
from tutorpulse.engagement.models import (
    EngagementState,
    PlatformDaily,
    PlatformWeekly,
    TutorDaily,
    TutorDirty,
    TutorHealth,
)
from tutorpulse.engagement.rollups import DAILY_COLUMNS, SESSION_COLUMNS
from tutorpulse.tutors.models import Tutor

# Written by the risk models (churn fields) and the alerts (priority_score, from the
# tutor's open alerts); the health refresh never overwrites them.
RISK_FIELDS = frozenset(
    {"churn_probability", "churn_risk_level", "risk_drivers", "risk_model_version_id",
     "priority_score"}
)  # fmt: skip
HEALTH_FIELDS = tuple(c.name for c in TutorHealth.__table__.columns if c.name not in RISK_FIELDS)


def _conn(db: Session) -> Connection:
    return db.connection()


def _is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def _stamp_series(values: pd.Series) -> pd.Series:
    if values.empty:
        return pd.Series(pd.to_datetime([], utc=True), index=values.index)
    return pd.to_datetime(values, utc=True, format="mixed")


def _date_series(values: pd.Series) -> pd.Series:
    if values.empty:
        return pd.Series([], index=values.index, dtype=object)
    if isinstance(values.iloc[0], date):
        return values
    return pd.to_datetime(values).dt.date


def _ids_clause(conn: Connection, column: str, ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    clause, value = in_list(conn.dialect.name, column, "ids", (int(i) for i in ids))
    return clause, {"ids": value}


def _frame(
    conn: Connection, sql: str, params: dict[str, Any], columns: Sequence[str]
) -> pd.DataFrame:
    rows = conn.execute(text(sql), params).all()
    return pd.DataFrame.from_records(rows, columns=list(columns))


# ---- raw reads ----------------------------------------------------------------


def load_tutors(db: Session, tutor_ids: Sequence[int]) -> pd.DataFrame:
    """``id, timezone, last_login_at`` of the given tutors."""
    conn = _conn(db)
    clause, params = _ids_clause(conn, "id", tutor_ids)
    frame = _frame(
        conn,
        f"SELECT id, timezone, last_login_at FROM tutor WHERE {clause}",
        params,
        ["id", "timezone", "last_login_at"],
    )
    frame["last_login_at"] = _stamp_series(frame["last_login_at"])
    return frame


def load_events(db: Session, tutor_ids: Sequence[int], since: date | None) -> pd.DataFrame:
    """Raw events of the tutors on or after ``since`` (UTC date; None = all)."""
    conn = _conn(db)
    clause, params = _ids_clause(conn, "tutor_id", tutor_ids)
    if since is not None:
        clause += " AND occurred_at >= :since"
        params["since"] = _bound_day(conn, since)
    frame = _frame(
        conn,
        f"SELECT tutor_id, event_type, occurred_at FROM engagement_event WHERE {clause}",
        params,
        ["tutor_id", "event_type", "occurred_at"],
    )
    frame["occurred_at"] = _stamp_series(frame["occurred_at"])
    return frame


def load_sessions(db: Session, tutor_ids: Sequence[int], since: date | None) -> pd.DataFrame:
    """Raw sessions of the tutors scheduled on or after ``since`` (UTC date; None = all)."""
    conn = _conn(db)
    clause, params = _ids_clause(conn, "tutor_id", tutor_ids)
    if since is not None:
        clause += " AND scheduled_start >= :since"
        params["since"] = _bound_day(conn, since)
    frame = _frame(
        conn,
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM tutor_session WHERE {clause}",
        params,
        SESSION_COLUMNS,
    )
    for column in ("scheduled_start", "actual_start"):
        frame[column] = _stamp_series(frame[column])
    for column in ("is_first_session", "technical_issue", "would_recommend"):
        frame[column] = frame[column].astype("boolean")
    return frame


def _bound_day(conn: Connection, day: date) -> Any:
    if _is_sqlite(conn):
        return f"{day.isoformat()} 00:00:00.000000"
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def load_daily(db: Session, tutor_ids: Sequence[int]) -> pd.DataFrame:
    """The full ``tutor_daily`` history of the tutors."""
    conn = _conn(db)
    clause, params = _ids_clause(conn, "tutor_id", tutor_ids)
    frame = _frame(
        conn, f"SELECT {', '.join(DAILY_COLUMNS)} FROM tutor_daily WHERE {clause}", params,
        DAILY_COLUMNS,
    )  # fmt: skip
    frame["day"] = _date_series(frame["day"])
    return frame


# ---- rollup writes --------------------------------------------------------------


def replace_daily(db: Session, daily: pd.DataFrame, from_days: dict[int, date | None]) -> None:
    """Replace each tutor's ``tutor_daily`` rows from its from-day on with ``daily``'s."""
    conn = _conn(db)
    full = [t for t, d in from_days.items() if d is None]
    partial = [{"t": t, "d": d} for t, d in from_days.items() if d is not None]
    if full:
        conn.execute(delete(TutorDaily).where(TutorDaily.tutor_id.in_(full)))
    if partial:
        conn.execute(
            delete(TutorDaily).where(
                and_(TutorDaily.tutor_id == bindparam("t"), TutorDaily.day >= bindparam("d"))
            ),
            partial,
        )
    if not daily.empty:
        _insert_frame(conn, "tutor_daily", daily)


def _insert_frame(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """Bulk insert a frame of plain numbers and dates (no NULLs) with the driver's
    executemany: the rollups write tens of thousands of rows per batch, and building
    SQLAlchemy parameters row by row cost more than the database did."""
    columns = list(frame.columns)
    sqlite_mode = _is_sqlite(conn)
    values: list[list[Any]] = []
    for column in columns:
        series = frame[column]
        if series.dtype == object:  # dates
            values.append([d.isoformat() for d in series] if sqlite_mode else series.tolist())
        else:
            values.append(series.tolist())
    mark = "?" if sqlite_mode else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _health_values(series: pd.Series, kind: str, sqlite_mode: bool) -> list[Any]:
    """One health column as driver-ready values (None for missing)."""
    if kind == "timestamp":
        stamps = pd.to_datetime(series, utc=True)
        fmt = "%Y-%m-%d %H:%M:%S.%f" if sqlite_mode else "%Y-%m-%dT%H:%M:%S.%f+00:00"
        return [None if pd.isna(v) else v for v in stamps.dt.strftime(fmt).tolist()]
    values = series.tolist()
    if kind == "date":
        return [None if v is None or v is pd.NaT else v.isoformat() for v in values]
    if kind == "bool":
        return [None if v is None or v is pd.NA else bool(v) for v in values]
    if kind == "int":
        return [None if v is None or v != v else int(v) for v in values]
    if kind == "float":
        return [None if v is None or v != v else float(v) for v in values]
    return [None if v is None or v != v else v for v in values]


def _health_kind(column: Any) -> str:
    python_type = getattr(column.type, "impl", column.type).python_type
    if isinstance(column.type, UTCDateTime):
        return "timestamp"
    return {bool: "bool", int: "int", float: "float", date: "date"}.get(python_type, "text")


_HEALTH_KINDS = {name: _health_kind(TutorHealth.__table__.c[name]) for name in HEALTH_FIELDS}
_PG_TYPES = {"timestamp": "timestamptz", "date": "date", "bool": "boolean", "int": "int",
             "float": "float8", "text": "text"}  # fmt: skip
_HEALTH_UPDATE = ", ".join(f"{n} = excluded.{n}" for n in HEALTH_FIELDS if n != "tutor_id")
# risk_drivers is NOT NULL: a new row starts with no drivers (the risk job fills it).
_SQLITE_UPSERT_HEALTH = (
    f"INSERT INTO tutor_health ({', '.join(HEALTH_FIELDS)}, risk_drivers) "
    f"VALUES ({', '.join('?' for _ in HEALTH_FIELDS)}, '[]') "
    f"ON CONFLICT (tutor_id) DO UPDATE SET {_HEALTH_UPDATE}"
)
_PG_UPSERT_HEALTH = (
    f"INSERT INTO tutor_health ({', '.join(HEALTH_FIELDS)}, risk_drivers) "
    f"SELECT {', '.join(HEALTH_FIELDS)}, '[]'::jsonb FROM json_to_recordset(%s::json) AS u("
    + ", ".join(f"{n} {_PG_TYPES[k]}" for n, k in _HEALTH_KINDS.items())
    + f") ON CONFLICT (tutor_id) DO UPDATE SET {_HEALTH_UPDATE}"
)


def upsert_health(db: Session, health: pd.DataFrame, now: datetime) -> None:
    """Insert or update the snapshot rows (risk fields untouched).

    Column by column into driver-level statements (SQLite: executemany; PostgreSQL:
    one statement over a JSON parameter): building SQLAlchemy parameters for ~35
    columns × thousands of rows was half of a refresh pass.
    """
    if health.empty:
        return
    conn = _conn(db)
    sqlite_mode = _is_sqlite(conn)
    frame = health.copy()
    frame["as_of"] = now
    frame["computed_at"] = now
    columns = [_health_values(frame[n], _HEALTH_KINDS[n], sqlite_mode) for n in HEALTH_FIELDS]
    rows = list(zip(*columns, strict=True))
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        if sqlite_mode:
            conn.exec_driver_sql(_SQLITE_UPSERT_HEALTH, chunk)
        else:
            payload = [dict(zip(HEALTH_FIELDS, row, strict=True)) for row in chunk]
            conn.exec_driver_sql(_PG_UPSERT_HEALTH, (json.dumps(payload),))


# The ingestion hot path: fixed driver-level statements, so a batch skips SQLAlchemy's
# per-row parameter processing. PostgreSQL takes a batch as arrays in one statement.
_PG_NEXT_EVENT_IDS = (
    "SELECT nextval(pg_get_serial_sequence('engagement_event', 'id')) FROM generate_series(1, %s)"
)
_PG_INSERT_EVENTS = (
    "INSERT INTO engagement_event (id, external_id, tutor_id, event_type, occurred_at, data, "
    "received_at) SELECT i, k, t, y, o, coalesce(d, '{}'::jsonb), r "
    "FROM json_to_recordset(%s::json) "
    "AS u(i int, k text, t int, y text, o timestamptz, d jsonb, r timestamptz)"
)
_PG_RAISE_LOGINS = (
    "UPDATE tutor SET last_login_at = u.ts, updated_at = %s "
    "FROM json_to_recordset(%s::json) AS u(id int, ts timestamptz) "
    "WHERE tutor.id = u.id AND (tutor.last_login_at IS NULL OR tutor.last_login_at < u.ts)"
)


_SQLITE_INSERT_EVENTS = (
    "INSERT INTO engagement_event (external_id, tutor_id, event_type, occurred_at, data, "
    "received_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_SQLITE_RAISE_LOGIN = (
    "UPDATE tutor SET last_login_at = ?, updated_at = ? WHERE id = ? "
    "AND (last_login_at IS NULL OR last_login_at < ?)"
)


def _sqlite_stamp(value: datetime) -> str:
    """A timestamp as UTCDateTime stores it on SQLite (naive UTC, microseconds)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_events(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (keys already known to be new) and return their ids in row order.

    On SQLite the caller holds the database's only write transaction, so new rowids
    are consecutive after the current maximum; a plain executemany is several times
    faster than INSERT … RETURNING with ordered results.
    """
    conn = _conn(db)
    if _is_sqlite(conn):
        # Driver-level executemany with values formatted as the column types store them:
        # SQLAlchemy's per-value type processing was most of a large batch's time.
        # A batch shares one receive time, and events sent without a timestamp share it too.
        stamps: dict[datetime, str] = {}

        def stamp(value: datetime) -> str:
            text_value = stamps.get(value)
            if text_value is None:
                text_value = stamps[value] = _sqlite_stamp(value)
            return text_value

        conn.exec_driver_sql(
            _SQLITE_INSERT_EVENTS,
            [
                (r["external_id"], r["tutor_id"], r["event_type"], stamp(r["occurred_at"]),
                 json.dumps(r["data"]) if r["data"] else "{}", stamp(r["received_at"]))
                for r in rows
            ],
        )  # fmt: skip
        last = int(conn.execute(text("SELECT max(id) FROM engagement_event")).scalar_one())
        return list(range(last - len(rows) + 1, last + 1))
    # PostgreSQL: draw the ids from the sequence first, then one INSERT reading the
    # batch from a single JSON parameter (a multi-row VALUES with thousands of
    # placeholders spent most of its time in the driver's query parsing, and arrays
    # in per-element adaptation).
    ids = [int(i) for (i,) in conn.exec_driver_sql(_PG_NEXT_EVENT_IDS, (len(rows),))]
    payload = [
        {"i": new_id, "k": r["external_id"], "t": r["tutor_id"], "y": r["event_type"],
         "o": _iso(r["occurred_at"]), "d": r["data"], "r": _iso(r["received_at"])}
        for new_id, r in zip(ids, rows, strict=True)
    ]  # fmt: skip
    conn.exec_driver_sql(_PG_INSERT_EVENTS, (json.dumps(payload),))
    return ids


def _iso(value: datetime) -> str:
    return value.isoformat()


def raise_last_logins(db: Session, logins: Sequence[tuple[int, datetime]], now: datetime) -> None:
    """Move each tutor's ``last_login_at`` up to the given time (never down).

    One executemany for the whole list, in the caller's (tutor) order.
    """
    if not logins:
        return
    conn = _conn(db)
    if _is_sqlite(conn):
        stamp = _sqlite_stamp(now)
        conn.exec_driver_sql(
            _SQLITE_RAISE_LOGIN,
            [(_sqlite_stamp(at), stamp, tutor_id, _sqlite_stamp(at)) for tutor_id, at in logins],
        )
        return
    conn.exec_driver_sql(
        _PG_RAISE_LOGINS,
        (now.astimezone(UTC), json.dumps([{"id": t, "ts": _iso(at)} for t, at in logins])),
    )


# ---- dirty marks ----------------------------------------------------------------


# Driver-level statements: a batch of marks skips SQLAlchemy's per-row parameter
# processing (SQLite: executemany; PostgreSQL: one statement over arrays).
_MARK_CONFLICT = """
ON CONFLICT (tutor_id) DO UPDATE SET
    from_day = CASE WHEN excluded.from_day < tutor_dirty.from_day
                    THEN excluded.from_day ELSE tutor_dirty.from_day END,
    version = tutor_dirty.version + 1,
    marked_at = excluded.marked_at
"""
_SQLITE_MARK = (
    "INSERT INTO tutor_dirty (tutor_id, from_day, version, marked_at) VALUES (?, ?, 1, ?)"
    + _MARK_CONFLICT
)
_PG_MARK = (
    "INSERT INTO tutor_dirty (tutor_id, from_day, version, marked_at) "
    "SELECT t, d, 1, %s FROM json_to_recordset(%s::json) AS u(t int, d date)" + _MARK_CONFLICT
)


def mark_dirty(db: Session, marks: Iterable[tuple[int, date]], now: datetime) -> None:
    """Record that each tutor's rollups must be recomputed from the given day on."""
    mark_dirty_conn(_conn(db), marks, now)


def mark_dirty_conn(conn: Connection, marks: Iterable[tuple[int, date]], now: datetime) -> None:
    earliest: dict[int, date] = {}
    for tutor, day in marks:
        tutor = int(tutor)
        if tutor not in earliest or day < earliest[tutor]:
            earliest[tutor] = day
    # In tutor order: concurrent transactions then lock these rows in the same order and
    # cannot deadlock on each other.
    ordered = sorted(earliest.items())
    for start in range(0, len(ordered), 5000):
        chunk = ordered[start : start + 5000]
        if _is_sqlite(conn):
            stamp = _sqlite_stamp(now)
            conn.exec_driver_sql(_SQLITE_MARK, [(t, d.isoformat(), stamp) for t, d in chunk])
        else:
            conn.exec_driver_sql(
                _PG_MARK,
                (now.astimezone(UTC), json.dumps([{"t": t, "d": d.isoformat()} for t, d in chunk])),
            )


def clear_all_dirty(db: Session) -> int:
    """Drop every mark (a full rebuild covers them); returns how many there were."""
    result = _conn(db).execute(delete(TutorDirty))
    return int(result.rowcount or 0)


def claim_dirty(
    db: Session, limit: int, marked_until: datetime | None = None
) -> list[tuple[int, date, int]]:
    """Up to ``limit`` dirty tutors (oldest marks first): (tutor_id, from_day, version);
    only marks made at or before ``marked_until`` when given."""
    query = select(TutorDirty.tutor_id, TutorDirty.from_day, TutorDirty.version)
    if marked_until is not None:
        query = query.where(TutorDirty.marked_at <= marked_until)
    rows = db.execute(query.order_by(TutorDirty.marked_at, TutorDirty.tutor_id).limit(limit)).all()
    return [(int(r[0]), r[1], int(r[2])) for r in rows]


def clear_dirty(db: Session, claimed: Sequence[tuple[int, date, int]]) -> None:
    """Delete the claimed marks whose version did not move while we worked."""
    if not claimed:
        return
    _conn(db).execute(
        delete(TutorDirty).where(
            and_(TutorDirty.tutor_id == bindparam("t"), TutorDirty.version == bindparam("v"))
        ),
        [{"t": t, "v": v} for t, _, v in sorted(claimed)],  # tutor order, as ingestion
    )


def count_dirty(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(TutorDirty)) or 0)


def distinct_timezones(db: Session) -> list[str]:
    return [str(z) for z in db.scalars(select(Tutor.timezone).distinct())]


def stale_health(db: Session, *, zone: str, today: date, limit: int) -> list[int]:
    """Tutors of ``zone`` whose snapshot is older than their local ``today`` (or missing)."""
    stmt = (
        select(Tutor.id)
        .outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
        .where(Tutor.timezone == zone)
        .where((TutorHealth.local_day.is_(None)) | (TutorHealth.local_day < today))
        .order_by(Tutor.id)
        .limit(limit)
    )
    return [int(i) for i in db.scalars(stmt)]


def count_tutors(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Tutor)) or 0)


def all_tutor_ids(db: Session) -> list[int]:
    return [int(i) for i in db.scalars(select(Tutor.id).order_by(Tutor.id))]


def tutor_ids_by_external(db: Session, external_ids: Sequence[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    conn = _conn(db)
    clause, value = in_list(conn.dialect.name, "external_id", "ids", external_ids)
    rows = conn.execute(text(f"SELECT external_id, id FROM tutor WHERE {clause}"), {"ids": value})
    return {str(e): int(i) for e, i in rows}


def events_by_key(db: Session, keys: Sequence[str]) -> dict[str, tuple[int, str, str, datetime]]:
    """Stored events by idempotency key: key → (id, tutor external id, type, occurred_at)."""
    if not keys:
        return {}
    conn = _conn(db)
    clause, value = in_list(conn.dialect.name, "e.external_id", "keys", keys)
    rows = conn.execute(
        text(
            "SELECT e.external_id, e.id, t.external_id, e.event_type, e.occurred_at "
            f"FROM engagement_event e JOIN tutor t ON t.id = e.tutor_id WHERE {clause}"
        ).columns(occurred_at=UTCDateTime()),
        {"keys": value},
    ).all()
    return {str(r[0]): (int(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows}


# ---- state ----------------------------------------------------------------------


def get_state(db: Session, key: str) -> dict[str, Any] | None:
    row = db.get(EngagementState, key)
    return None if row is None else dict(row.value)


def set_state(db: Session, key: str, value: dict[str, Any], now: datetime) -> None:
    row = db.get(EngagementState, key)
    if row is None:
        db.add(EngagementState(key=key, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
    db.flush()


# ---- platform ---------------------------------------------------------------------


def load_active_pairs(db: Session, start: date, end: date) -> pd.DataFrame:
    """(tutor_id, day) pairs with a login or a completed session in [start, end]."""
    rows = db.execute(
        select(TutorDaily.tutor_id, TutorDaily.day)
        .where(TutorDaily.day.between(start, end))
        .where((TutorDaily.logins > 0) | (TutorDaily.sessions_completed > 0))
    ).all()
    return pd.DataFrame.from_records(rows, columns=["tutor_id", "day"])


_PLATFORM_SUMS = (
    "logins", "events", "sessions_completed", "sessions_booked", "sessions_due",
    "tutor_no_shows", "student_no_shows", "sessions_cancelled", "sessions_rescheduled",
    "rescheduled_by_tutor", "rescheduled_by_student", "rating_sum", "rating_count",
    "satisfaction_sum", "satisfaction_count", "engagement_sum", "engagement_count",
    "empathy_sum", "empathy_count", "clarity_sum", "clarity_count",
)  # fmt: skip


def daily_sums(db: Session, start: date, end: date) -> pd.DataFrame:
    """Platform sums of ``tutor_daily`` counters per day in [start, end]."""
    columns = [func.sum(getattr(TutorDaily, c)).label(c) for c in _PLATFORM_SUMS]
    rows = db.execute(
        select(TutorDaily.day, *columns)
        .where(TutorDaily.day.between(start, end))
        .group_by(TutorDaily.day)
    ).all()
    frame = pd.DataFrame.from_records(rows, columns=["day", *_PLATFORM_SUMS])
    return frame.set_index("day")


def load_events_between(db: Session, start: date, end: date) -> pd.DataFrame:
    """Events with their tutor's zone whose UTC date lies in [start, end]."""
    conn = _conn(db)
    frame = _frame(
        conn,
        "SELECT e.tutor_id, e.event_type, e.occurred_at, t.timezone FROM engagement_event e "
        "JOIN tutor t ON t.id = e.tutor_id WHERE e.occurred_at >= :a AND e.occurred_at < :b",
        {"a": _bound_day(conn, start), "b": _bound_day(conn, end)},
        ["tutor_id", "event_type", "occurred_at", "timezone"],
    )
    frame["occurred_at"] = _stamp_series(frame["occurred_at"])
    return frame


def first_active_days(db: Session) -> pd.Series:
    rows = db.execute(
        select(TutorHealth.tutor_id, TutorHealth.first_active_on).where(
            TutorHealth.first_active_on.is_not(None)
        )
    ).all()
    return pd.Series({int(t): d for t, d in rows}, dtype=object)


def min_daily_day(db: Session) -> date | None:
    value = db.scalar(select(func.min(TutorDaily.day)))
    return value if isinstance(value, date) or value is None else date.fromisoformat(str(value))


def replace_platform_daily(db: Session, rows: list[dict[str, Any]], start: date) -> None:
    conn = _conn(db)
    conn.execute(delete(PlatformDaily).where(PlatformDaily.day >= start))
    if rows:
        conn.execute(insert(PlatformDaily), rows)


def replace_platform_weekly(db: Session, rows: list[dict[str, Any]], start: date) -> None:
    conn = _conn(db)
    conn.execute(delete(PlatformWeekly).where(PlatformWeekly.week_start >= start))
    if rows:
        conn.execute(insert(PlatformWeekly), rows)
