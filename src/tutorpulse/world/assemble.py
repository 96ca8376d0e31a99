"""Turn simulated session rows into the final, sorted session columns (still numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutorpulse.world.clock import DAY
from tutorpulse.world.config import ST_CANCELLED, ST_COMPLETED, ST_RESCHEDULED
from tutorpulse.world.stores import sort_order

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
SCORE_AVAILABILITY = 0.95


@dataclass
class SessionColumns:
    """Final sessions in session-id order. Nulls: -1 for codes/ints/times, NaN for floats."""

    start: IntArray
    dur: IntArray
    tutor: IntArray
    student: IntArray  # renumbered 0.. in order of first appearance
    subject: npt.NDArray[np.int8]
    status: npt.NDArray[np.int8]
    by: npt.NDArray[np.int8]
    is_first: npt.NDArray[np.bool_]
    actual_start: IntArray
    actual_end: IntArray
    rating: IntArray
    satisfaction: IntArray
    would_recommend: npt.NDArray[np.int8]
    engagement: FloatArray
    empathy: FloatArray
    clarity: FloatArray
    tech: npt.NDArray[np.int8]
    rebooked: npt.NDArray[np.int8]
    booked: IntArray
    student_source: IntArray  # simulation student index of each renumbered student


def _first_of_group(keys: IntArray, order: IntArray) -> npt.NDArray[np.bool_]:
    sorted_keys = keys[order]
    first_sorted = np.ones(keys.size, dtype=bool)
    first_sorted[1:] = sorted_keys[1:] != sorted_keys[:-1]
    out = np.empty(keys.size, dtype=bool)
    out[order] = first_sorted
    return out


def assemble_sessions(
    rng: np.random.Generator,
    rows: dict[str, npt.NDArray],
    *,
    n_tutors: int,
    window_start_ts: int,
    now_ts: int,
    trend: tuple[int, float, int] | None,
    empathy_offset: FloatArray,
    clarity_offset: FloatArray,
) -> SessionColumns:
    """Flag first pairings over the full history, keep the window, sort, derive the scores.

    `trend` is (subject code, slope per day, reference day) for the planted quality trend.
    """
    start = rows["start_ts"]
    pair = rows["student"] * np.int64(n_tutors) + rows["tutor"]
    # A pair's first session is its earliest booking that took place or was
    # missed (cancelled and rescheduled bookings never happened), the same rule
    # the importer uses to derive the flag. Pairs that met before the simulated
    # history (no simulated first booking) get no flag.
    new_pair = np.isin(pair, np.unique(pair[rows["pfirst"]]))
    held_idx = np.flatnonzero((rows["status"] != ST_CANCELLED) & (rows["status"] != ST_RESCHEDULED))
    held_pairs = pair[held_idx]
    is_first = np.zeros(pair.size, dtype=bool)
    is_first[held_idx] = _first_of_group(held_pairs, sort_order(held_pairs, start[held_idx]))
    is_first &= new_pair

    keep = start >= window_start_ts
    sel = np.flatnonzero(keep)
    final = sel[
        sort_order(start[sel], rows["tutor"][sel], rows["student"][sel], rows["subject"][sel])
    ]

    def col(name: str) -> npt.NDArray:
        return rows[name][final]

    start_f = start[final]
    tutor = col("tutor")
    sim_student = col("student")
    status = col("status")
    dur = col("dur").astype(np.int64)
    late = col("late")
    n = final.size
    completed = status == ST_COMPLETED

    # Renumber students by first appearance.
    uniq, first_idx, inverse = np.unique(sim_student, return_index=True, return_inverse=True)
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[np.argsort(first_idx, kind="stable")] = np.arange(uniq.size)
    student = rank[inverse]
    student_source = uniq[np.argsort(rank)]

    # Rebooked: the same student and tutor have a later session (any status).
    pair_f = student * np.int64(n_tutors) + tutor
    order_f = sort_order(pair_f, start_f)
    has_next_sorted = np.zeros(n, dtype=bool)
    has_next_sorted[:-1] = pair_f[order_f][1:] == pair_f[order_f][:-1]
    has_next = np.empty(n, dtype=bool)
    has_next[order_f] = has_next_sorted
    rebooked = np.where(completed, has_next.astype(np.int8), -1).astype(np.int8)

    actual_start = np.where(completed, start_f + late, -1)
    end = start_f + dur * 60 + rng.integers(-300, 481, size=n)
    # A session that ran over right before `now` is cut at now - 1 minute.
    end = np.minimum(np.maximum(end, actual_start + dur * 30), now_ts - 60)
    actual_end = np.where(completed, end, -1)

    q = col("q").astype(np.float64)
    r = col("r").astype(np.float64)
    rating = col("rating").astype(np.int64)
    rated = completed & (rating > 0)
    satisfaction = np.clip(np.rint(2.0 * r - 0.5 + 0.7 * rng.standard_normal(n)), 1, 10)
    satisfaction = np.where(rated, satisfaction, -1).astype(np.int64)
    recommend = (r + 0.35 * rng.standard_normal(n)) > 3.6
    would_recommend = np.where(rated, recommend, -1).astype(np.int8)
    rating = np.where(rated, rating, -1)

    scored = completed & (rng.random(n) < SCORE_AVAILABILITY)
    eng = 6.8 + 1.0 * q + 0.6 * rng.standard_normal(n)
    if trend is not None:
        subject_code, slope, ref_day = trend
        days = (start_f // DAY - ref_day).astype(np.float64)
        eng = eng + np.where(col("subject") == subject_code, slope * days, 0.0)
    emp = 7.0 + 0.9 * (q + empathy_offset[tutor]) + 0.6 * rng.standard_normal(n)
    cla = 6.9 + 0.9 * (q + clarity_offset[tutor]) + 0.6 * rng.standard_normal(n)

    def score(x: FloatArray) -> FloatArray:
        return np.where(scored, np.clip(np.round(x, 1), 1.0, 10.0), np.nan)

    return SessionColumns(
        start=start_f,
        dur=dur,
        tutor=tutor,
        student=student,
        subject=col("subject"),
        status=status,
        by=col("by"),
        is_first=is_first[final],
        actual_start=actual_start,
        actual_end=actual_end,
        rating=rating,
        satisfaction=satisfaction,
        would_recommend=would_recommend,
        engagement=score(eng),
        empathy=score(emp),
        clarity=score(cla),
        tech=np.where(completed, col("tech"), -1).astype(np.int8),
        rebooked=rebooked,
        booked=col("booked_ts"),
        student_source=student_source,
    )
