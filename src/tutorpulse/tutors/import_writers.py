"""Writers of the import: each turns a validated table into rows and upserts them.

Called by ``importer.import_files`` inside its transaction; every function here
works on typed pandas frames and writes through ``bulk``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, select, text

from tutorpulse.core.db import Base
from tutorpulse.engagement.models import EngagementEvent
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import bulk
from tutorpulse.tutors.contract import derive_first_sessions
from tutorpulse.tutors.models import Student, Tutor
from tutorpulse.tutors.vocabulary import SUBJECT_SEPARATOR


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, rows: int) -> None: ...


@dataclass
class Written:
    """What a writer did: the upsert counts, and how many first-session flags it derived."""

    result: bulk.UpsertResult
    derived_first_sessions: int = 0


def existing_ids(conn: Connection, model: type[Tutor] | type[Student]) -> pd.Series:
    rows = conn.execute(select(model.external_id, model.id)).all()
    if not rows:
        return pd.Series(dtype="int64")
    ext, ids = zip(*rows, strict=True)
    return pd.Series(np.asarray(ids, dtype=np.int64), index=pd.Index(ext))


def _stamps(now: datetime, *names: str) -> dict[str, object]:
    return dict.fromkeys(names, now)


def _col(frame: pd.DataFrame, name: str, default: object = None) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


_T = bulk.TargetColumn


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def write_tutors(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress
) -> Written:
    subjects = _col(frame, "subjects").fillna("")
    lists = subjects.map(
        lambda s: [x.strip() for x in str(s).split(SUBJECT_SEPARATOR) if x.strip()]
    )
    out = pd.DataFrame(
        {
            "external_id": frame["tutor_id"],
            "email": frame["email"],
            "name": _col(frame, "name").fillna(""),
            "timezone": _col(frame, "timezone").fillna("UTC"),
            "subjects": lists.map(json.dumps),
            "primary_subject": lists.map(lambda items: items[0] if items else None),
            "certification_level": _col(frame, "certification_level"),
            "joined_on": frame["joined_on"],
            "status": _col(frame, "status").fillna("active"),
            "churned_at": _col(frame, "churned_at").astype("datetime64[us, UTC]"),
            "last_login_at": _col(frame, "last_login_at").astype("datetime64[us, UTC]"),
        }
    )
    constants = _stamps(now, "created_at", "updated_at")
    columns = [
        _T("external_id", "str", update=False),
        _T("email", "str"),
        _T("name", "str"),
        _T("timezone", "str"),
        _T("subjects", "json"),
        _T("primary_subject", "str"),
        _T("certification_level", "str"),
        _T("joined_on", "date"),
        _T("status", "str"),
        _T("churned_at", "timestamp"),
        _T("last_login_at", "timestamp"),
    ]
    # lastLoginAt never moves backwards: keep the later of stored and imported.
    monotonic = (
        "CASE WHEN excluded.last_login_at IS NOT NULL AND (tutor.last_login_at IS NULL "
        "OR excluded.last_login_at > tutor.last_login_at) THEN excluded.last_login_at "
        "ELSE tutor.last_login_at END"
    )
    return Written(
        bulk.upsert_frame(
            conn,
            _table(Tutor),
            out,
            columns,
            overrides={"last_login_at": monotonic},
            constants=constants,
            on_progress=progress.advance,
        )
    )


def write_students(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress
) -> Written:
    out = pd.DataFrame(
        {
            "external_id": frame["student_id"],
            "grade_level": _col(frame, "grade_level"),
            "timezone": _col(frame, "timezone").fillna("UTC"),
        }
    )
    constants = _stamps(now, "created_at", "updated_at")
    columns = [
        _T("external_id", "str", update=False),
        _T("grade_level", "str"),
        _T("timezone", "str"),
    ]
    return Written(
        bulk.upsert_frame(
            conn, _table(Student), out, columns, constants=constants, on_progress=progress.advance
        )
    )


def ids_for(
    conn: Connection, model: type[Tutor] | type[Student], external_ids: list[str]
) -> pd.Series:
    """External id → id for just these ids (those that exist)."""
    if not external_ids:
        return pd.Series(dtype="int64")
    rows = conn.execute(
        select(model.external_id, model.id).where(model.external_id.in_(external_ids))
    ).all()
    if not rows:
        return pd.Series(dtype="int64")
    ext, ids = zip(*rows, strict=True)
    return pd.Series(np.asarray(ids, dtype=np.int64), index=pd.Index(ext))


def _map_ids(values: pd.Series, ids: pd.Series) -> np.ndarray:
    position = ids.index.get_indexer(pd.Index(values))
    if (position < 0).any():  # validated earlier; a miss here is a bug, not bad input
        raise RuntimeError("unresolved external id during import")
    return ids.to_numpy()[position]


_SESSION_VALUE_COLUMNS = [
    _T("subject", "str"),
    _T("scheduled_start", "timestamp"),
    _T("scheduled_minutes", "int"),
    _T("actual_start", "timestamp"),
    _T("actual_end", "timestamp"),
    _T("status", "str"),
    _T("cancelled_by", "str"),
    _T("rescheduled_by", "str"),
    _T("is_first_session", "bool"),
    _T("first_session_derived", "bool"),
    _T("student_rating", "int"),
    _T("student_satisfaction", "int"),
    _T("engagement_score", "float"),
    _T("empathy_score", "float"),
    _T("clarity_score", "float"),
    _T("technical_issue", "bool"),
    _T("would_recommend", "bool"),
    _T("rebooked", "bool"),
]


def write_sessions(
    conn: Connection,
    frame: pd.DataFrame,
    now: datetime,
    progress: Progress,
    *,
    tutor_ids: pd.Series | None = None,
    student_ids: pd.Series | None = None,
) -> Written:
    """Upsert sessions; ``tutor_ids``/``student_ids`` (external → id) skip loading all ids."""
    had_sessions = conn.execute(text("SELECT 1 FROM tutor_session LIMIT 1")).first() is not None
    supplied = _col(frame, "is_first_session").astype("boolean")
    derived_mask = supplied.isna()
    first = supplied.copy()
    if derived_mask.any():
        first[derived_mask] = derive_first_sessions(frame)[derived_mask]
    out = pd.DataFrame({"external_id": frame["session_id"]})
    tutors = existing_ids(conn, Tutor) if tutor_ids is None else tutor_ids
    students = existing_ids(conn, Student) if student_ids is None else student_ids
    out["tutor_id"] = _map_ids(frame["tutor_id"], tutors)
    out["student_id"] = _map_ids(frame["student_id"], students)
    for column in _SESSION_VALUE_COLUMNS:
        if column.name == "is_first_session":
            out[column.name] = first.astype("boolean")
        elif column.name == "first_session_derived":
            out[column.name] = pd.Series(
                derived_mask.to_numpy(), index=frame.index, dtype="boolean"
            )
        else:
            out[column.name] = _col(frame, column.name)
    constants = _stamps(now, "created_at", "updated_at")
    columns = [
        _T("external_id", "str", update=False),
        _T("tutor_id", "int"),
        _T("student_id", "int"),
        *_SESSION_VALUE_COLUMNS,
    ]
    result = bulk.upsert_frame(
        conn,
        _table(TutorSession),
        out,
        columns,
        constants=constants,
        on_progress=progress.advance,
    )
    if had_sessions and derived_mask.any():
        _rederive_first_sessions(conn, out.loc[derived_mask.to_numpy(), ["student_id", "tutor_id"]])
    return Written(result, derived_first_sessions=int(derived_mask.sum()))


def _rederive_first_sessions(conn: Connection, pairs: pd.DataFrame) -> None:
    """Recompute derived first-session flags for pairs that already had sessions stored.

    A pair whose sessions were all cancelled or rescheduled has no first session.
    """
    unique = pairs.drop_duplicates()
    conn.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS _import_pairs (student_id INTEGER, tutor_id INTEGER)")
    )
    conn.execute(text("DELETE FROM _import_pairs"))
    conn.execute(
        text("INSERT INTO _import_pairs (student_id, tutor_id) VALUES (:s, :t)"),
        [{"s": int(s), "t": int(t)} for s, t in unique.itertuples(index=False)],
    )
    conn.execute(
        text(
            """
            UPDATE tutor_session SET is_first_session = COALESCE(id = (
                SELECT s2.id FROM tutor_session s2
                WHERE s2.student_id = tutor_session.student_id
                  AND s2.tutor_id = tutor_session.tutor_id
                  AND s2.status NOT IN ('cancelled', 'rescheduled')
                ORDER BY s2.scheduled_start, s2.external_id LIMIT 1), 1 = 0)
            WHERE first_session_derived
              AND EXISTS (SELECT 1 FROM _import_pairs p
                          WHERE p.student_id = tutor_session.student_id
                            AND p.tutor_id = tutor_session.tutor_id)
            """
        )
    )


def write_events(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress
) -> Written:
    ids = _col(frame, "event_id")
    if ids.isna().any():
        # No client id: a content hash keeps re-imports of the same file idempotent.
        basis = frame[["tutor_id", "event_type", "occurred_at"]].assign(
            data=_col(frame, "data").fillna("{}")
        )
        hashed = pd.util.hash_pandas_object(basis, index=False).to_numpy()
        fallback = pd.Series([f"h{h:016x}" for h in hashed.tolist()], index=frame.index)
        ids = ids.where(ids.notna(), fallback)
    out = pd.DataFrame(
        {
            "external_id": ids,
            "tutor_id": _map_ids(frame["tutor_id"], existing_ids(conn, Tutor)),
            "event_type": frame["event_type"],
            "occurred_at": frame["occurred_at"],
            "data": _col(frame, "data").fillna("{}"),
        }
    )
    constants = _stamps(now, "received_at")
    columns = [
        _T("external_id", "str", update=False),
        _T("tutor_id", "int", update=False),
        _T("event_type", "str", update=False),
        _T("occurred_at", "timestamp", update=False),
        _T("data", "json", update=False),
    ]
    result = bulk.upsert_frame(
        conn,
        _table(EngagementEvent),
        out,
        columns,
        constants=constants,
        on_progress=progress.advance,
    )
    _raise_last_logins(conn, out)
    return Written(result)


def _raise_last_logins(conn: Connection, events: pd.DataFrame) -> None:
    """Move each tutor's ``last_login_at`` up to their latest imported login (never down)."""
    logins = events.loc[events["event_type"] == "login", ["tutor_id", "occurred_at"]]
    if logins.empty:
        return
    latest = logins.groupby("tutor_id")["occurred_at"].max()
    if conn.dialect.name == "sqlite":
        stamps: list[object] = list(bulk.format_sqlite_timestamps(latest))
    else:
        stamps = [ts.to_pydatetime() for ts in latest]
    conn.execute(
        text(
            "UPDATE tutor SET last_login_at = :ts WHERE id = :id "
            "AND (last_login_at IS NULL OR last_login_at < :ts)"
        ),
        [{"id": int(i), "ts": ts} for i, ts in zip(latest.index, stamps, strict=True)],
    )
