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
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine

from tutorpulse.core.errors import AppError, ErrorDetail, Invalid
from tutorpulse.engagement import service as engagement_service
from tutorpulse.tutors.contract import (
    SPECS,
    ParsedTable,
    check_references,
    parse_table,
)
from tutorpulse.tutors.import_writers import (
    Progress,
    Written,
    existing_ids,
    write_events,
    write_sessions,
    write_students,
    write_tutors,
)
from tutorpulse.tutors.models import Student, Tutor

ORDER = ("tutors", "students", "sessions", "events")
MAX_REPORTED_ERRORS = 100


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


def validate(conn: Connection, files: dict[str, Path]) -> dict[str, ParsedTable]:
    """Parse and validate every file, including references across files and the database."""
    parsed: dict[str, ParsedTable] = {}
    for name in ORDER:
        if name in files:
            table, offset = read_table(files[name])
            parsed[name] = parse_table(
                SPECS[name], table, file_label=files[name].name, line_offset=offset
            )
    tutor_ids = existing_ids(conn, Tutor).index
    if "tutors" in parsed:
        tutor_ids = tutor_ids.union(pd.Index(parsed["tutors"].frame["tutor_id"].dropna()))
    student_ids = existing_ids(conn, Student).index
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
    writers: dict[str, Callable[[Connection, pd.DataFrame, datetime, Progress], Written]] = {
        "tutors": write_tutors,
        "students": write_students,
        "sessions": write_sessions,
        "events": write_events,
    }
    for name in ORDER:
        if name not in parsed:
            continue
        p = parsed[name]
        frame = p.frame.drop(index=pd.Index(p.errors.bad_rows())) if len(p.errors) else p.frame
        t0 = time.perf_counter()
        progress.stage(name, len(frame))
        written = writers[name](conn, frame, now, progress)
        reports[name].inserted = written.result.inserted
        reports[name].updated = written.result.updated
        report.derived_first_sessions += written.derived_first_sessions
        reports[name].seconds = time.perf_counter() - t0
    _mark_dirty(conn, parsed, now)
    report.write_seconds = time.perf_counter() - write_started
    return report


EPOCH_DAY = date(1970, 1, 1)


def _mark_dirty(conn: Connection, parsed: dict[str, ParsedTable], now: datetime) -> None:
    """Tell the engagement refresh which tutors' rollups the imported rows touch, and from when.

    Sessions and events mark their tutor from the day before their earliest
    timestamp; a tutor row (its time zone may have changed) marks the whole history.
    """
    earliest: dict[str, date] = {}
    for name, column in (("sessions", "scheduled_start"), ("events", "occurred_at")):
        if name not in parsed:
            continue
        frame = parsed[name].frame
        if frame.empty or column not in frame:
            continue
        first = frame.groupby("tutor_id")[column].min().dropna()
        for tutor, stamp in first.items():
            day = (stamp - pd.Timedelta(days=1)).date()
            key = str(tutor)
            if key not in earliest or day < earliest[key]:
                earliest[key] = day
    if "tutors" in parsed:
        for tutor in parsed["tutors"].frame["tutor_id"].dropna().astype(str):
            earliest[tutor] = EPOCH_DAY
    if not earliest:
        return
    ids = existing_ids(conn, Tutor)
    marks = [(int(ids[t]), d) for t, d in earliest.items() if t in ids.index]
    engagement_service.mark_imported_dirty(conn, marks=marks, now=now)


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
