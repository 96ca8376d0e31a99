"""Calibration figures, recomputed from the contract tables alone (the files are enough).

Definitions (also written to truth.json and docs/world.md):

* sessions per day: session rows with a past status (anything but `scheduled`)
  divided by the window length in days.
* failed first session: a session that is `tutor_no_show`, or `completed` with
  `student_rating` <= 2.
* churned tutors who failed at their first session: among tutors with status
  `churned` who joined inside the window (so their whole history is in the
  files) and have a due session, the share whose first due session (earliest
  `completed` or `tutor_no_show` session by scheduled_start, then session_id)
  failed.
* tutor-initiated reschedule share: `rescheduled` sessions with
  `rescheduled_by = tutor` over all `rescheduled` sessions.
* tutor replacement: order each student's sessions in one subject by
  scheduled_start, then session_id. A consecutive pair (prev, next) is a
  replacement when prev is a tutor-side failure (`tutor_no_show`, or
  `cancelled`/`rescheduled` by the tutor), next has a different tutor, and next
  starts at most 14 days after prev. Its cause is prev's failure type; the
  no-show share is replacements caused by `tutor_no_show` over all replacements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutorpulse.world.clock import DAY, epoch_day
from tutorpulse.world.config import (
    DEFAULT_TUTORS,
    SESSION_STATUSES,
    ST_CANCELLED,
    ST_COMPLETED,
    ST_RESCHEDULED,
    ST_SCHEDULED,
    ST_TUTOR_NO_SHOW,
    SUBJECTS,
)
from tutorpulse.world.stores import sort_order


@dataclass(frozen=True)
class Targets:
    """The original brief's figures (DESIGN §10)."""

    sessions_per_day: float = 3000.0
    churned_failed_first_share: float = 0.24
    tutor_reschedule_share: float = 0.982
    no_show_replacement_share: float = 0.16

    def scaled(self, tutors: int) -> Targets:
        """Sessions per day scale with the number of tutors (3,000 at the default size)."""
        return Targets(
            sessions_per_day=round(self.sessions_per_day * tutors / DEFAULT_TUTORS, 1),
            churned_failed_first_share=self.churned_failed_first_share,
            tutor_reschedule_share=self.tutor_reschedule_share,
            no_show_replacement_share=self.no_show_replacement_share,
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _codes(column: pa.ChunkedArray | pa.Array, labels: tuple[str, ...] | pa.Array) -> npt.NDArray:
    values = pa.array(list(labels)) if isinstance(labels, tuple) else labels
    idx = pc.index_in(column, value_set=values)
    return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _seconds(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    micros = pc.fill_null(column.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    return np.where(micros >= 0, micros // 1_000_000, -1).astype(np.int64)


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def compute_calibration(
    tutors: pa.Table,
    sessions: pa.Table,
    *,
    now: datetime,
    days: int,
    replacement_window_days: int = 14,
) -> dict[str, float | int | None]:
    """Return the achieved calibration figures (see the module docstring for definitions)."""
    status = _codes(sessions["status"], SESSION_STATUSES)
    start = _seconds(sessions["scheduled_start"])
    tutor = _codes(sessions["tutor_id"], tutors["tutor_id"].combine_chunks())
    student = np.asarray(
        pc.dictionary_encode(sessions["student_id"]).combine_chunks().indices, dtype=np.int64
    )
    subject = _codes(sessions["subject"], SUBJECTS)
    seq = np.asarray(
        pc.cast(pc.utf8_slice_codeunits(sessions["session_id"], 1), pa.int64()), dtype=np.int64
    )
    rating = np.asarray(pc.fill_null(sessions["student_rating"], 0), dtype=np.int64)
    resched_by = _codes(sessions["rescheduled_by"], ("tutor", "student"))
    cancel_by = _codes(sessions["cancelled_by"], ("tutor", "student"))

    past = status != ST_SCHEDULED
    completed = status == ST_COMPLETED
    no_show = status == ST_TUTOR_NO_SHOW
    failed = no_show | (completed & (rating >= 1) & (rating <= 2))
    n_past = int(past.sum())

    # First due session of tutors who churned and joined inside the window.
    order = sort_order(start, seq)
    due = order[(completed | no_show)[order]]
    due_tutors, first_pos = np.unique(tutor[due], return_index=True)
    first_failed = failed[due[first_pos]]
    t_status = _codes(tutors["status"], ("active", "paused", "churned"))
    joined = np.asarray(tutors["joined_on"].cast(pa.int32()), dtype=np.int64)
    eligible = (t_status[due_tutors] == 2) & (joined[due_tutors] >= epoch_day(now) - days)

    rescheduled = status == ST_RESCHEDULED
    tutor_fault = (
        no_show | ((status == ST_CANCELLED) & (cancel_by == 0)) | (rescheduled & (resched_by == 0))
    )
    key = student * len(SUBJECTS) + subject
    order = sort_order(key, start, seq)
    prev, nxt = order[:-1], order[1:]
    repl = (
        (key[prev] == key[nxt])
        & (tutor[prev] != tutor[nxt])
        & tutor_fault[prev]
        & (start[nxt] - start[prev] <= replacement_window_days * DAY)
    )
    cause = prev[repl]
    first = np.asarray(pc.fill_null(sessions["is_first_session"], False), dtype=bool)
    first_due = first & (completed | no_show)

    return {
        "sessions_per_day": round(n_past / days, 1),
        "completed_per_day": round(int(completed.sum()) / days, 1),
        "churned_failed_first_share": _share(
            int(first_failed[eligible].sum()), int(eligible.sum())
        ),
        "churned_tutors_with_first_session": int(eligible.sum()),
        "tutor_reschedule_share": _share(
            int((rescheduled & (resched_by == 0)).sum()), int(rescheduled.sum())
        ),
        "no_show_replacement_share": _share(int(no_show[cause].sum()), int(cause.size)),
        "tutor_replacements": int(cause.size),
        "replacements_after_tutor_cancellation": int((status[cause] == ST_CANCELLED).sum()),
        "replacements_after_tutor_reschedule": int((status[cause] == ST_RESCHEDULED).sum()),
        "completion_rate": _share(int(completed.sum()), n_past),
        "tutor_no_show_rate": _share(int(no_show.sum()), n_past),
        "first_session_failure_rate": _share(int((failed & first_due).sum()), int(first_due.sum())),
        "past_sessions": n_past,
        "scheduled_sessions": int((~past).sum()),
    }
