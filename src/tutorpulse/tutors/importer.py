"""Import of the data contract (tutors, students, sessions, events) from CSV or Parquet.

Every row of every file is validated before anything is written. By default an
import with any invalid row writes nothing (``ImportRejected``); with
``skip_invalid`` the valid rows load and the rejects are returned (and can be
written to a CSV with their reasons). Writes are idempotent upserts on the
external ids, inside the caller's single transaction.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, Table, select, text

from tutorpulse.core.db import Base
from tutorpulse.core.errors import AppError, ErrorDetail, Invalid
from tutorpulse.engagement.models import EngagementEvent
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import bulk
from tutorpulse.tutors.contract import (
    EVENTS,
    SESSIONS,
    SPECS,
    STUDENTS,
    SUBJECT_SEPARATOR,
    TUTORS,
    ParsedTable,
    check_references,
    derive_first_sessions,
    parse_table,
)
from tutorpulse.tutors.models import Student, Tutor

ORDER = ("tutors", "students", "sessions", "events")
MAX_REPORTED_ERRORS = 100


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, rows: int) -> None: ...


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None


@dataclass
class FileReport:
    name: str
    path: str
    rows: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    seconds: float = 0.0
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.rows - self.rejected - self.inserted - self.updated

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ImportReport:
    files: dict[str, FileReport]
    errors: pd.DataFrame
    validate_seconds: float = 0.0
    write_seconds: float = 0.0
    derived_first_sessions: int = 0

    @property
    def error_count(self) -> int:
        return len(self.errors)

    @property
    def rejected_rows(self) -> int:
        return sum(f.rejected for f in self.files.values())


class ImportRejected(AppError):
    """The files contain invalid rows and ``skip_invalid`` was not given: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        shown = report.errors.head(MAX_REPORTED_ERRORS)
        details = [
            ErrorDetail(f"{r.file}:{r.line} {r.field}", str(r.reason)) for r in shown.itertuples()
        ]
        super().__init__(
            f"{report.error_count} invalid value(s) in {report.rejected_rows} row(s); "
            "nothing imported",
            details,
            422,
        )
        self.report = report


def find_files(directory: Path) -> dict[str, Path]:
    """The contract files present in ``directory`` (``tutors.csv`` or ``tutors.parquet`` …)."""
    if not directory.is_dir():
        raise Invalid.field("directory", f"{directory} is not a directory")
    found: dict[str, Path] = {}
    for name in ORDER:
        candidates = [directory / f"{name}.parquet", directory / f"{name}.csv"]
        present = [p for p in candidates if p.exists()]
        if len(present) > 1:
            raise Invalid.field(
                name, f"both {present[0].name} and {present[1].name} exist; keep one"
            )
        if present:
            found[name] = present[0]
    if not found:
        raise Invalid.field(
            "directory", f"no tutors/students/sessions/events .csv or .parquet files in {directory}"
        )
    return found


def read_table(path: Path) -> tuple[pa.Table, int]:
    """Read a file; CSV columns stay text so validation sees exactly what was written.

    Returns the table and the line offset of its first data row (2 for CSV, 1 for Parquet).
    """
    if path.suffix == ".parquet":
        return pq.read_table(path), 1
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise Invalid.field(path.name, f"not a readable CSV file: {exc}") from exc
    return table, 2


def _existing_ids(conn: Connection, model: type[Tutor] | type[Student]) -> pd.Series:
    rows = conn.execute(select(model.external_id, model.id)).all()
    if not rows:
        return pd.Series(dtype="int64")
    ext, ids = zip(*rows, strict=True)
    return pd.Series(np.asarray(ids, dtype=np.int64), index=pd.Index(ext))


def validate(conn: Connection, files: dict[str, Path]) -> dict[str, ParsedTable]:
    """Parse and validate every file, including references across files and the database."""
    parsed: dict[str, ParsedTable] = {}
    for name in ORDER:
        if name in files:
            table, offset = read_table(files[name])
            parsed[name] = parse_table(
                SPECS[name], table, file_label=files[name].name, line_offset=offset
            )
    tutor_ids = _existing_ids(conn, Tutor).index
    if "tutors" in parsed:
        tutor_ids = tutor_ids.union(pd.Index(parsed["tutors"].frame["tutor_id"].dropna()))
    student_ids = _existing_ids(conn, Student).index
    if "students" in parsed:
        student_ids = student_ids.union(pd.Index(parsed["students"].frame["student_id"].dropna()))
    if "sessions" in parsed:
        check_references(parsed["sessions"], "tutor_id", tutor_ids, "tutor")
        check_references(parsed["sessions"], "student_id", student_ids, "student")
    if "events" in parsed:
        check_references(parsed["events"], "tutor_id", tutor_ids, "tutor")
    return parsed


def collect_errors(parsed: dict[str, ParsedTable]) -> pd.DataFrame:
    frames = [p.errors.frame() for p in parsed.values() if len(p.errors)]
    if not frames:
        return pd.DataFrame(columns=["file", "line", "row", "field", "reason"])
    return pd.concat(frames, ignore_index=True).sort_values(
        ["file", "line", "field"], kind="mergesort"
    )


def write_rejects(errors: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    errors[["file", "line", "field", "reason"]].to_csv(path, index=False)


def import_files(
    conn: Connection,
    *,
    files: dict[str, Path],
    now: datetime,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate then upsert the given files inside ``conn``'s transaction.

    Raises ``ImportRejected`` (nothing written) when a row is invalid and
    ``skip_invalid`` is false, or when a whole file is unusable (missing column).
    """
    progress = progress or _NoProgress()
    started = time.perf_counter()
    parsed = validate(conn, files)
    errors = collect_errors(parsed)
    reports = {
        name: FileReport(
            name, str(files[name]), rows=len(p.frame), unknown_columns=p.unknown_columns
        )
        for name, p in parsed.items()
    }
    for name, p in parsed.items():
        reports[name].rejected = int(p.errors.bad_rows().size)
    report = ImportReport(reports, errors, validate_seconds=time.perf_counter() - started)
    file_level = any(p.errors.has_file_error() for p in parsed.values())
    if len(errors) and (not skip_invalid or file_level):
        raise ImportRejected(report)
    write_started = time.perf_counter()
    writers: dict[
        str,
        Callable[[Connection, pd.DataFrame, datetime, Progress, ImportReport], bulk.UpsertResult],
    ] = {
        "tutors": _write_tutors,
        "students": _write_students,
        "sessions": _write_sessions,
        "events": _write_events,
    }
    for name in ORDER:
        if name not in parsed:
            continue
        p = parsed[name]
        frame = p.frame.drop(index=pd.Index(p.errors.bad_rows())) if len(p.errors) else p.frame
        t0 = time.perf_counter()
        progress.stage(name, len(frame))
        result = writers[name](conn, frame, now, progress, report)
        reports[name].inserted = result.inserted
        reports[name].updated = result.updated
        reports[name].seconds = time.perf_counter() - t0
    report.write_seconds = time.perf_counter() - write_started
    return report


def import_directory(
    engine: Engine,
    *,
    directory: Path,
    now: datetime,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the contract files in ``directory`` in one transaction of its own.

    On SQLite the per-row foreign-key checks are switched off for this one
    connection while it writes: every reference was already checked against the
    files and the database during validation, and the checks would double the
    write time. They are switched back on before the connection is returned.
    """
    files = find_files(directory)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        sqlite = engine.dialect.name == "sqlite" and raw is not None
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                report = import_files(
                    conn, files=files, now=now, skip_invalid=skip_invalid, progress=progress
                )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    refresh_statistics(engine, [TABLES[name] for name in report.files])
    return report


TABLES = {
    "tutors": "tutor",
    "students": "student",
    "sessions": "tutor_session",
    "events": "engagement_event",
}


def refresh_statistics(engine: Engine, tables: list[str]) -> None:
    """Refresh planner statistics after a bulk load (and, on PostgreSQL, the visibility map).

    Without it PostgreSQL's planner ignores the partial and covering indexes on
    freshly loaded tables (index-only scans need the visibility map), and
    SQLite's has no statistics at all.
    """
    if not tables:
        return
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")
    else:
        with engine.begin() as conn:
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {table}")


def _stamps(now: datetime, *names: str) -> dict[str, object]:
    return dict.fromkeys(names, now)


def _col(frame: pd.DataFrame, name: str, default: object = None) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


_T = bulk.TargetColumn


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _write_tutors(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress, _r: ImportReport
) -> bulk.UpsertResult:
    subjects = _col(frame, "subjects").fillna("")
    lists = subjects.map(
        lambda s: [x.strip() for x in str(s).split(SUBJECT_SEPARATOR) if x.strip()]
    )
    import json

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
    return bulk.upsert_frame(
        conn,
        _table(Tutor),
        out,
        columns,
        overrides={"last_login_at": monotonic},
        constants=constants,
        on_progress=progress.advance,
    )


def _write_students(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress, _r: ImportReport
) -> bulk.UpsertResult:
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
    return bulk.upsert_frame(
        conn, _table(Student), out, columns, constants=constants, on_progress=progress.advance
    )


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


def _write_sessions(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress, report: ImportReport
) -> bulk.UpsertResult:
    had_sessions = conn.execute(text("SELECT 1 FROM tutor_session LIMIT 1")).first() is not None
    supplied = _col(frame, "is_first_session").astype("boolean")
    derived_mask = supplied.isna()
    first = supplied.copy()
    if derived_mask.any():
        first[derived_mask] = derive_first_sessions(frame)[derived_mask]
    report.derived_first_sessions = int(derived_mask.sum())
    out = pd.DataFrame({"external_id": frame["session_id"]})
    out["tutor_id"] = _map_ids(frame["tutor_id"], _existing_ids(conn, Tutor))
    out["student_id"] = _map_ids(frame["student_id"], _existing_ids(conn, Student))
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
    return result


def _rederive_first_sessions(conn: Connection, pairs: pd.DataFrame) -> None:
    """Recompute derived first-session flags for pairs that already had sessions stored."""
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
            UPDATE tutor_session SET is_first_session = (id = (
                SELECT s2.id FROM tutor_session s2
                WHERE s2.student_id = tutor_session.student_id
                  AND s2.tutor_id = tutor_session.tutor_id
                  AND s2.status NOT IN ('cancelled', 'rescheduled')
                ORDER BY s2.scheduled_start, s2.external_id LIMIT 1))
            WHERE first_session_derived
              AND EXISTS (SELECT 1 FROM _import_pairs p
                          WHERE p.student_id = tutor_session.student_id
                            AND p.tutor_id = tutor_session.tutor_id)
            """
        )
    )


def _write_events(
    conn: Connection, frame: pd.DataFrame, now: datetime, progress: Progress, _r: ImportReport
) -> bulk.UpsertResult:
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
            "tutor_id": _map_ids(frame["tutor_id"], _existing_ids(conn, Tutor)),
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
    return result


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


__all__ = [
    "EVENTS",
    "SESSIONS",
    "STUDENTS",
    "TUTORS",
    "FileReport",
    "ImportRejected",
    "ImportReport",
    "find_files",
    "import_files",
    "write_rejects",
]
