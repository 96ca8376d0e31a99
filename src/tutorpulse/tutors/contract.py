"""The import data contract (DESIGN §6): column specs and vectorised row validation.

Pure functions over pyarrow/pandas tables: no database. The file import and the
HTTP ingestion endpoints share these checks, so a row is judged the same way
whichever door it comes through.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from tutorpulse.tutors.vocabulary import (
    CERTIFICATION_LEVELS,
    EVENT_TYPES,
    GRADE_LEVELS,
    INITIATOR,
    SESSION_STATUSES,
    TUTOR_STATUSES,
)

Kind = Literal["str", "int", "float", "bool", "date", "timestamp", "json"]

FIRST_SESSION_EXCLUDED_STATUSES = ("cancelled", "rescheduled")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "str"
    required: bool = False
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int = 320


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str | None
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


TUTORS = TableSpec(
    "tutors",
    "tutor_id",
    (
        Column("tutor_id", required=True, max_length=64),
        Column("email", required=True),
        Column("name", max_length=200),
        Column("timezone", max_length=64),
        Column("subjects", max_length=1000),
        Column("certification_level", choices=CERTIFICATION_LEVELS),
        Column("joined_on", "date", required=True),
        Column("status", choices=TUTOR_STATUSES),
        Column("churned_at", "timestamp"),
        Column("last_login_at", "timestamp"),
    ),
)
STUDENTS = TableSpec(
    "students",
    "student_id",
    (
        Column("student_id", required=True, max_length=64),
        Column("grade_level", choices=GRADE_LEVELS),
        Column("timezone", max_length=64),
    ),
)
SESSIONS = TableSpec(
    "sessions",
    "session_id",
    (
        Column("session_id", required=True, max_length=64),
        Column("tutor_id", required=True, max_length=64),
        Column("student_id", required=True, max_length=64),
        Column("subject", max_length=64),
        Column("scheduled_start", "timestamp", required=True),
        Column("scheduled_minutes", "int", required=True, min=1, max=600),
        Column("actual_start", "timestamp"),
        Column("actual_end", "timestamp"),
        Column("status", required=True, choices=SESSION_STATUSES),
        Column("cancelled_by", choices=INITIATOR),
        Column("rescheduled_by", choices=INITIATOR),
        Column("is_first_session", "bool"),
        Column("student_rating", "int", min=1, max=5),
        Column("student_satisfaction", "int", min=1, max=10),
        Column("engagement_score", "float", min=1, max=10),
        Column("empathy_score", "float", min=1, max=10),
        Column("clarity_score", "float", min=1, max=10),
        Column("technical_issue", "bool"),
        Column("would_recommend", "bool"),
        Column("rebooked", "bool"),
    ),
)
EVENTS = TableSpec(
    "events",
    "event_id",
    (
        Column("event_id", max_length=128),
        Column("tutor_id", required=True, max_length=64),
        Column("event_type", required=True, choices=EVENT_TYPES, max_length=50),
        Column("occurred_at", "timestamp", required=True),
        Column("data", "json", max_length=100_000),
    ),
)
SPECS: dict[str, TableSpec] = {s.name: s for s in (TUTORS, STUDENTS, SESSIONS, EVENTS)}

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
_JSON_SYNTAX_ONLY = pajson.ParseOptions(
    explicit_schema=pa.schema([]), unexpected_field_behavior="ignore"
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(header: str) -> str:
    """``scheduledStart`` → ``scheduled_start``; snake_case headers pass through."""
    header = header.strip()
    return _CAMEL.sub("_", header).lower() if any(ch.isupper() for ch in header) else header


@dataclass
class RowErrors:
    """Rejected rows as parallel lists: file, line, field, reason (and the row index)."""

    file: str
    rows: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    line_offset: int = 2  # CSV: header is line 1, first data row is line 2

    def add(self, mask: np.ndarray, field_name: str, reason: str | list[str]) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        self.rows.extend(idx.tolist())
        self.fields.extend([field_name] * idx.size)
        if isinstance(reason, list):
            self.reasons.extend(reason)
        else:
            self.reasons.extend([reason] * idx.size)

    def add_file_error(self, field_name: str, reason: str) -> None:
        self.rows.append(-1)
        self.fields.append(field_name)
        self.reasons.append(reason)

    def bad_rows(self) -> np.ndarray:
        return np.unique(np.asarray([r for r in self.rows if r >= 0], dtype=np.int64))

    def has_file_error(self) -> bool:
        return any(r < 0 for r in self.rows)

    def frame(self) -> pd.DataFrame:
        rows = np.asarray(self.rows, dtype=np.int64)
        lines = np.where(rows < 0, 1, rows + self.line_offset)
        return pd.DataFrame(
            {
                "file": self.file,
                "line": lines,
                "row": rows,
                "field": self.fields,
                "reason": self.reasons,
            }
        )

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class ParsedTable:
    """A validated table: typed columns (pandas) plus the errors found."""

    spec: TableSpec
    frame: pd.DataFrame
    errors: RowErrors
    unknown_columns: list[str]


def _as_string(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    # Empty / whitespace-only strings mean "missing".
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _parse_timestamp(arr: pa.Array) -> tuple[pd.Series, np.ndarray]:
    """Timestamps → UTC (datetime64[us, UTC]); returns (values, invalid mask)."""
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is None:
            arr = pc.assume_timezone(arr, "UTC")
        values = pc.cast(arr, pa.timestamp("us", tz="UTC"))
        return values.to_pandas(), np.zeros(len(arr), dtype=bool)
    if pa.types.is_date(arr.type):
        values = pc.cast(pc.cast(arr, pa.timestamp("us")), pa.timestamp("us"))
        return pc.assume_timezone(values, "UTC").to_pandas(), np.zeros(len(arr), dtype=bool)
    text = _as_string(arr)
    try:  # fast path: Arrow's ISO-8601 parser (offsets and 'Z' understood)
        values = pc.cast(text, pa.timestamp("us", tz="UTC"))
        return values.to_pandas(), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    raw = pd.Series(text.to_pandas(), dtype=object)
    parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    invalid = (parsed.isna() & raw.notna()).to_numpy()
    return parsed.astype("datetime64[us, UTC]"), invalid


def _parse_column(column: Column, arr: pa.Array, errors: RowErrors) -> pd.Series:
    n = len(arr)
    if column.kind == "timestamp":
        values, invalid = _parse_timestamp(arr)
        errors.add(invalid, column.name, "not an ISO-8601 timestamp")
        return values
    if column.kind == "date":
        if pa.types.is_date(arr.type):
            return pd.Series(pd.to_datetime(arr.to_pandas()).dt.date)
        if pa.types.is_timestamp(arr.type):
            return pd.Series(arr.to_pandas()).dt.date
        raw = pd.Series(_as_string(arr).to_pandas(), dtype=object)
        parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        errors.add((parsed.isna() & raw.notna()).to_numpy(), column.name, "not a date (YYYY-MM-DD)")
        return parsed.dt.date.where(parsed.notna(), None)
    if column.kind in ("int", "float"):
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            values = pd.Series(arr.to_pandas(), dtype="float64")
            invalid = np.zeros(n, dtype=bool)
        else:
            raw = pd.Series(_as_string(arr).to_pandas(), dtype=object)
            values = pd.to_numeric(raw, errors="coerce").astype("float64")
            invalid = (values.isna() & raw.notna()).to_numpy()
            errors.add(
                invalid, column.name, f"not a{'n integer' if column.kind == 'int' else ' number'}"
            )
        present = values.notna().to_numpy() & ~invalid
        if column.kind == "int":
            frac = present & (values.to_numpy() % 1 != 0)
            errors.add(frac, column.name, "not an integer")
        lo, hi = column.min, column.max
        if lo is not None or hi is not None:
            v = values.to_numpy()
            out = present & (
                ((v < lo) if lo is not None else False) | ((v > hi) if hi is not None else False)
            )
            errors.add(
                out,
                column.name,
                f"out of range: expected {lo:g}–{hi:g}"
                if lo is not None and hi is not None
                else "out of range",
            )
        return values.astype("Int64") if column.kind == "int" else values
    if column.kind == "bool":
        if pa.types.is_boolean(arr.type):
            return pd.Series(arr.to_pandas(), dtype="boolean")
        raw = pd.Series(_as_string(arr).to_pandas(), dtype=object)
        lowered = raw.str.lower()
        truthy = lowered.isin(_TRUE)
        falsy = lowered.isin(_FALSE)
        invalid = (raw.notna() & ~truthy & ~falsy).to_numpy()
        errors.add(invalid, column.name, "not a boolean (true/false)")
        flags = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        flags[truthy] = True
        flags[falsy] = False
        return flags
    # Text: checked with Arrow kernels, converted to Python strings once at the end.
    text = _as_string(arr)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    errors.add(
        lengths > column.max_length, column.name, f"longer than {column.max_length} characters"
    )
    if column.choices is not None:
        text = pc.utf8_lower(text)
        known = pc.is_in(text, value_set=pa.array(column.choices)).to_numpy(zero_copy_only=False)
        bad = present & ~known
        errors.add(bad, column.name, f"expected one of {', '.join(column.choices)}")
    values = pd.Series(text.to_pandas(), dtype=object)
    if column.kind == "json":
        values = _validate_json(values, text, present, column.name, errors)
    return values


def _validate_json(
    values: pd.Series, text: pa.Array, present: np.ndarray, name: str, errors: RowErrors
) -> pd.Series:
    """Check that every present value is a JSON object; empty means ``{}``.

    ``text`` is the same column as Arrow strings (nulls where missing).
    """
    bad = np.zeros(len(values), dtype=bool)
    texts = text.drop_null()
    if len(texts) == 0:
        return values.where(present, "{}")
    if not pc.any(pc.match_substring(texts, "\n")).as_py():
        # Fast path: Arrow parses them all at once as JSON lines (syntax only, no
        # schema); it fails on any value that is not an object, and only then do
        # we look row by row.
        lines = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
        body = pc.binary_join(lines, "\n")[0].as_buffer()
        try:
            parsed = pajson.read_json(pa.BufferReader(body), parse_options=_JSON_SYNTAX_ONLY)
        except (pa.ArrowInvalid, ValueError):
            pass
        else:
            if parsed.num_rows == len(texts):
                return values.where(present, "{}")
    # Most rows are "{}" or short objects: only parse what is not trivially an object.
    candidates = np.flatnonzero(present & (values.to_numpy() != "{}"))
    raw = values.to_numpy()
    for i in candidates:
        try:
            parsed = json.loads(raw[i])
        except (ValueError, TypeError):
            bad[i] = True
            continue
        if not isinstance(parsed, dict):
            bad[i] = True
    errors.add(bad, name, "not a JSON object")
    return values.where(present, "{}")


def parse_table(
    spec: TableSpec, table: pa.Table, *, file_label: str, line_offset: int = 2
) -> ParsedTable:
    """Validate one table against its spec: typed columns plus every row error found."""
    errors = RowErrors(file_label, line_offset=line_offset)
    renamed: dict[str, str] = {}
    for name in table.column_names:
        renamed.setdefault(snake_case(name), name)
    unknown = sorted(name for snake, name in renamed.items() if snake not in spec.names)
    n = table.num_rows
    columns: dict[str, pd.Series] = {}
    for column in spec.columns:
        if column.name not in renamed:
            if column.required:
                errors.add_file_error(column.name, "required column is missing")
            continue
        arr = table.column(renamed[column.name]).combine_chunks()
        already = len(errors.rows)
        series = _parse_column(column, arr, errors)
        columns[column.name] = series.reset_index(drop=True)
        if column.required:
            if column.kind in ("str", "json"):  # blank text counts as missing
                missing = ~_as_string(arr).is_valid().to_numpy(zero_copy_only=False)
            else:
                missing = series.isna().to_numpy()
                # A value that failed to parse is reported as such, not also as missing.
                missing[np.asarray(errors.rows[already:], dtype=np.int64)] = False
            errors.add(missing, column.name, "required value is missing")
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    if spec.key and spec.key in frame and not errors.has_file_error():
        keys = frame[spec.key]
        key_arr = pa.array(keys.to_numpy(), type=pa.string(), from_pandas=True)
        distinct = pc.count_distinct(key_arr, mode="only_valid").as_py()
        if distinct < len(keys) - key_arr.null_count:
            dup = keys.duplicated(keep="first").to_numpy() & keys.notna().to_numpy()
        else:
            dup = np.zeros(len(keys), dtype=bool)
        if dup.any():
            first_row = keys.drop_duplicates(keep="first")
            first_line = pd.Series(first_row.index + line_offset, index=first_row.to_numpy())
            reasons = [
                f"duplicate {spec.key} (first seen at line {first_line[k]})"
                for k in keys[dup].to_numpy()
            ]
            errors.add(dup, spec.key, reasons)
    if spec is SESSIONS and not errors.has_file_error():
        _check_session_rules(frame, errors)
    return ParsedTable(spec, frame, errors, unknown)


def _check_session_rules(frame: pd.DataFrame, errors: RowErrors) -> None:
    """Cross-field rules of a session row."""
    status = frame["status"]
    for col, wanted in (("cancelled_by", "cancelled"), ("rescheduled_by", "rescheduled")):
        if col in frame:
            stray = (frame[col].notna() & (status != wanted)).to_numpy()
            errors.add(stray, col, f"only allowed when status is {wanted}")
    if "actual_start" in frame and "actual_end" in frame:
        backwards = (frame["actual_end"] < frame["actual_start"]).fillna(False).to_numpy(dtype=bool)
        errors.add(backwards, "actual_end", "before actual_start")
    for col in ("student_rating", "student_satisfaction"):
        if col in frame:
            stray = (frame[col].notna() & (status != "completed")).to_numpy(dtype=bool)
            errors.add(stray, col, "only allowed on completed sessions")


def check_references(
    parsed: ParsedTable, column: str, known: set[str] | pd.Index, target: str
) -> None:
    """Flag rows whose ``column`` names an id that exists neither in the files nor the database."""
    if column not in parsed.frame:
        return
    values = parsed.frame[column]
    missing = (values.notna() & ~values.isin(known)).to_numpy()
    parsed.errors.add(missing, column, f"unknown {target} (not in the import nor the database)")


def derive_first_sessions(frame: pd.DataFrame) -> pd.Series:
    """``True`` on each (student, tutor) pair's first held-or-missed session.

    The first pairing is the pair's earliest session by scheduled start that was
    not cancelled or rescheduled (those never took place).
    """
    eligible = ~frame["status"].isin(FIRST_SESSION_EXCLUDED_STATUSES)
    sub = frame.loc[eligible, ["student_id", "tutor_id", "scheduled_start", "session_id"]]
    order = sub.sort_values(["scheduled_start", "session_id"], kind="mergesort")
    firsts = order.drop_duplicates(["student_id", "tutor_id"], keep="first").index
    result = pd.Series(False, index=frame.index)
    result[firsts] = True
    return result
