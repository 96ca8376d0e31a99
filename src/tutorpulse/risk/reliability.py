"""Long-window reliability of each tutor: per-tutor session counts and the features built on them.

A tutor's no-show, cancellation, reschedule and late-start propensities are slow
traits, so they are estimated over ``RELIABILITY_WINDOWS`` (180 and 365 days).
The features depend on the rows only through ``COUNT_COLUMNS`` (per tutor, per
window), which makes the counts computable two ways with identical results:

* ``session_counts`` — pandas over session rows (training, tests), and
* ``risk.repository.older_session_counts`` — one grouped SQL scan of the rows
  that started before the raw-row lookback (scoring), added to
  ``session_counts`` of the recent rows the scorer reads anyway.

Only sessions that *ended* before the cutoff count (``start + minutes <= cutoff``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.frames import DAY

RELIABILITY_WINDOWS = (180, 365)
# Pseudo-counts of the empirical-Bayes shrinkage of per-tutor rates toward the population.
SHRINK_SESSIONS = 10.0
# ``late``: more than 5 minutes late (the original's lateness); ``late_start``: not started
# within a minute of the scheduled time (the earliest sign of an unreliable tutor).
LATE_SECONDS = 300
LATE_START_SECONDS = 60
DUE_STATUSES = ("completed", "tutor_no_show", "student_no_show")
FLAGS = (
    "sessions",
    "due",
    "completed",
    "tutor_no_shows",
    "tutor_cancels",
    "tutor_reschedules",
    "late",
    "late_start",
)
COUNT_COLUMNS: tuple[str, ...] = tuple(f"{f}_{w}d" for w in RELIABILITY_WINDOWS for f in FLAGS)
# Long-window estimates used by the no-show model (log of the shrunk rates).
TRAIT_FEATURES: tuple[str, ...] = (
    "log_sessions_365d",
    "log_no_show_rate_365d",
    "log_cancel_rate_365d",
    "log_reschedule_rate_365d",
    "log_late_start_rate_365d",
)


def session_flags(ss: pd.DataFrame) -> dict[str, npt.NDArray[np.bool_]]:
    """The ``FLAGS`` of each session row (what ``older_session_counts`` sums in SQL)."""
    status = ss["status"].to_numpy()
    completed = status == "completed"
    late_s = ss["late_s"].to_numpy()
    return {
        "sessions": np.ones(len(ss), dtype=bool),
        "due": np.isin(status, DUE_STATUSES),
        "completed": completed,
        "tutor_no_shows": status == "tutor_no_show",
        "tutor_cancels": (status == "cancelled") & (ss["cancelled_by"].to_numpy() == "tutor"),
        "tutor_reschedules": (status == "rescheduled")
        & (ss["rescheduled_by"].to_numpy() == "tutor"),
        "late": completed & (late_s > LATE_SECONDS),
        "late_start": completed & (late_s > LATE_START_SECONDS),
    }


def session_counts(ss: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """``COUNT_COLUMNS`` per tutor (index ``tutor_id``) of the rows of ``ss`` that ended by
    ``cutoff``; a row counts in window w if it started at or after ``cutoff - w days``."""
    start = ss["start_ts"].to_numpy()
    ended = (start + ss["minutes"].to_numpy() * 60) <= cutoff
    ss = ss.loc[ended & (start >= cutoff - max(RELIABILITY_WINDOWS) * DAY)]
    start = ss["start_ts"].to_numpy()
    flags = session_flags(ss)
    codes, tutors = pd.factorize(ss["tutor_id"].to_numpy(), sort=True)
    n = len(tutors)
    cols: dict[str, Any] = {}
    for w in RELIABILITY_WINDOWS:
        inside = start >= cutoff - w * DAY
        for f in FLAGS:
            sel = flags[f] & inside
            cols[f"{f}_{w}d"] = np.bincount(codes[sel], minlength=n).astype(np.int64)
    index = pd.Index(np.asarray(tutors, dtype=np.int64), name="tutor_id")
    return pd.DataFrame(cols, index=index)[list(COUNT_COLUMNS)]


def _shrunk(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per-tutor rate shrunk toward the population rate with ``SHRINK_SESSIONS`` pseudo-counts."""
    prior = float(num.sum() / den.sum()) if den.sum() > 0 else 0.0
    return np.asarray((num + prior * SHRINK_SESSIONS) / (den + SHRINK_SESSIONS))


def _log(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.log(np.maximum(x, 1e-6)))


def reliability_features(counts: pd.DataFrame, index: pd.Index) -> dict[str, Any]:
    """Long-window reliability features of the tutors in ``index`` from their counts
    (tutors without a row have no sessions)."""
    c = counts.reindex(index, fill_value=0)

    def col(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(c[name].to_numpy(), dtype=np.float64)

    failures = col("tutor_no_shows_180d") + col("tutor_cancels_180d")
    failures = failures + col("tutor_reschedules_180d")
    sessions = col("sessions_180d")
    n365 = col("sessions_365d")
    return {
        "sessions_180d": sessions,
        "tutor_failures_180d": failures,
        "failure_rate_180d_shrunk": _shrunk(failures, sessions),
        "late_rate_180d_shrunk": _shrunk(col("late_180d"), col("completed_180d")),
        "no_show_rate_180d_shrunk": _shrunk(col("tutor_no_shows_180d"), col("due_180d")),
        "log_sessions_365d": np.log1p(n365),
        "log_no_show_rate_365d": _log(_shrunk(col("tutor_no_shows_365d"), col("due_365d"))),
        "log_cancel_rate_365d": _log(_shrunk(col("tutor_cancels_365d"), n365)),
        "log_reschedule_rate_365d": _log(_shrunk(col("tutor_reschedules_365d"), n365)),
        "log_late_start_rate_365d": _log(_shrunk(col("late_start_365d"), col("completed_365d"))),
    }
