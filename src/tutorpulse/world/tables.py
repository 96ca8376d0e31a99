"""Build the data-contract tables (DESIGN §6) as Arrow tables."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutorpulse.world.arrow import format_ids, take_labels, timestamps
from tutorpulse.world.assemble import SessionColumns
from tutorpulse.world.clock import TZ_NAMES
from tutorpulse.world.config import (
    CERTIFICATION_LEVELS,
    EVENT_TYPES,
    GRADE_LEVELS,
    INITIATORS,
    SESSION_STATUSES,
    ST_CANCELLED,
    ST_RESCHEDULED,
    SUBJECTS,
    TUTOR_STATUSES,
)
from tutorpulse.world.events import EV_SESSION_COMPLETED, EV_SESSION_SCHEDULED, EventColumns
from tutorpulse.world.names import FIRST_NAMES, LAST_NAMES
from tutorpulse.world.population import TutorPopulation

TS = pa.timestamp("us", tz="UTC")
TUTORS_SCHEMA = pa.schema(
    [
        ("tutor_id", pa.string()),
        ("email", pa.string()),
        ("name", pa.string()),
        ("timezone", pa.string()),
        ("subjects", pa.string()),
        ("certification_level", pa.string()),
        ("joined_on", pa.date32()),
        ("status", pa.string()),
        ("churned_at", TS),
        ("last_login_at", TS),
    ]
)
STUDENTS_SCHEMA = pa.schema(
    [("student_id", pa.string()), ("grade_level", pa.string()), ("timezone", pa.string())]
)
SESSIONS_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("tutor_id", pa.string()),
        ("student_id", pa.string()),
        ("subject", pa.string()),
        ("scheduled_start", TS),
        ("scheduled_minutes", pa.int32()),
        ("actual_start", TS),
        ("actual_end", TS),
        ("status", pa.string()),
        ("cancelled_by", pa.string()),
        ("rescheduled_by", pa.string()),
        ("is_first_session", pa.bool_()),
        ("student_rating", pa.int32()),
        ("student_satisfaction", pa.int32()),
        ("engagement_score", pa.float64()),
        ("empathy_score", pa.float64()),
        ("clarity_score", pa.float64()),
        ("technical_issue", pa.bool_()),
        ("would_recommend", pa.bool_()),
        ("rebooked", pa.bool_()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("tutor_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", TS),
        ("data", pa.string()),
    ]
)
SESSION_ID_WIDTH = 8
STUDENT_ID_WIDTH = 7
EVENT_ID_WIDTH = 9


def tutor_ids(n: int) -> pa.Array:
    return format_ids("T", np.arange(1, n + 1), 4)


def session_ids(n: int) -> pa.Array:
    return format_ids("S", np.arange(1, n + 1), SESSION_ID_WIDTH)


def _subject_strings(rank: npt.NDArray[np.int8]) -> pa.Array:
    """';'-joined subjects, primary first (built per distinct combination)."""
    combos, inverse = np.unique(rank, axis=0, return_inverse=True)
    labels = []
    for combo in combos:
        taught = [int(s) for s in np.argsort(np.where(combo < 0, 99, combo)) if combo[s] >= 0]
        labels.append(";".join(SUBJECTS[s] for s in taught))
    return take_labels(labels, np.asarray(inverse).ravel())


def _nullable_bool(code: npt.NDArray[np.int8]) -> pa.Array:
    return pa.array(code == 1, type=pa.bool_(), mask=code < 0)


def _nullable_int(values: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(values.astype(np.int32), type=pa.int32(), mask=values < 0)


def _nullable_float(values: npt.NDArray[np.float64]) -> pa.Array:
    return pa.array(np.nan_to_num(values), type=pa.float64(), mask=np.isnan(values))


def build_tutors(
    pop: TutorPopulation,
    ids: pa.Array,
    *,
    status: npt.NDArray[np.int64],
    churned_at: npt.NDArray[np.int64],
    last_login_at: npt.NDArray[np.int64],
) -> pa.Table:
    first = take_labels(FIRST_NAMES, pop.first_name)
    last = take_labels(LAST_NAMES, pop.last_name)
    number = format_ids("", np.arange(1, pop.n + 1), 1)
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first), ".", pc.utf8_lower(last), number, "@example.com", ""
    )
    columns = [
        ids,
        email,
        pc.binary_join_element_wise(first, last, " "),
        take_labels(TZ_NAMES, pop.tz),
        _subject_strings(pop.subject_rank),
        take_labels(CERTIFICATION_LEVELS, pop.cert),
        pa.array(pop.join_day.astype(np.int32), type=pa.date32()),
        take_labels(TUTOR_STATUSES, status),
        timestamps(churned_at, churned_at >= 0),
        timestamps(last_login_at, last_login_at >= 0),
    ]
    return pa.Table.from_arrays(columns, schema=TUTORS_SCHEMA)


def build_students(grade: npt.NDArray[np.int8], tz: npt.NDArray[np.int8]) -> pa.Table:
    n = grade.size
    columns = [
        format_ids("ST", np.arange(1, n + 1), STUDENT_ID_WIDTH),
        take_labels(GRADE_LEVELS, grade),
        take_labels(TZ_NAMES, tz),
    ]
    return pa.Table.from_arrays(columns, schema=STUDENTS_SCHEMA)


def build_sessions(cols: SessionColumns, tutor_id: pa.Array, ids: pa.Array) -> pa.Table:
    by = cols.by.astype(np.int64) - 1
    cancelled_by = np.where(cols.status == ST_CANCELLED, by, -1)
    rescheduled_by = np.where(cols.status == ST_RESCHEDULED, by, -1)
    columns = [
        ids,
        tutor_id.take(pa.array(cols.tutor)),
        format_ids("ST", cols.student + 1, STUDENT_ID_WIDTH),
        take_labels(SUBJECTS, cols.subject),
        timestamps(cols.start),
        pa.array(cols.dur.astype(np.int32), type=pa.int32()),
        timestamps(cols.actual_start, cols.actual_start >= 0),
        timestamps(cols.actual_end, cols.actual_end >= 0),
        take_labels(SESSION_STATUSES, cols.status),
        take_labels(INITIATORS, cancelled_by),
        take_labels(INITIATORS, rescheduled_by),
        pa.array(cols.is_first, type=pa.bool_()),
        _nullable_int(cols.rating),
        _nullable_int(cols.satisfaction),
        _nullable_float(cols.engagement),
        _nullable_float(cols.empathy),
        _nullable_float(cols.clarity),
        _nullable_bool(cols.tech),
        _nullable_bool(cols.would_recommend),
        _nullable_bool(cols.rebooked),
    ]
    return pa.Table.from_arrays(columns, schema=SESSIONS_SCHEMA)


def build_events(ev: EventColumns, tutor_id: pa.Array, session_id: pa.Array) -> pa.Table:
    m = ev.time.size
    linked = (ev.kind == EV_SESSION_SCHEDULED) | (ev.kind == EV_SESSION_COMPLETED)
    ref = pa.array(np.where(linked, ev.session, 0), type=pa.int64(), mask=~linked)
    data = pc.fill_null(
        pc.binary_join_element_wise('{"sessionId":"', session_id.take(ref), '"}', ""), "{}"
    )
    columns = [
        format_ids("E", np.arange(1, m + 1), EVENT_ID_WIDTH),
        tutor_id.take(pa.array(ev.tutor)),
        take_labels(EVENT_TYPES, ev.kind),
        timestamps(ev.time),
        data,
    ]
    return pa.Table.from_arrays(columns, schema=EVENTS_SCHEMA)
