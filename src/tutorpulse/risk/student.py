"""Student history as of a cutoff, for the student no-show target (pure, no database).

Every feature reads only sessions that *ended* before the cutoff
(``start + minutes <= cutoff``) and started within ``STUDENT_WINDOW_DAYS``; the
session being scored is never read. Like the tutor reliability counts, the features
depend on the rows older than ``LOOKBACK_DAYS`` only through per-student counts
(``STUDENT_COUNT_COLUMNS``), computable two ways with identical results:

* ``student_counts`` — pandas over session rows (training, tests), and
* ``risk.repository.older_student_counts`` — one grouped SQL scan of the rows that
  started before the raw-row lookback (scoring), combined with ``student_counts`` of
  the recent rows the scorer reads anyway (``combine_counts``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.features import LOOKBACK_DAYS
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.reliability import DUE_STATUSES

STUDENT_WINDOW_DAYS = 365
# Pseudo-sessions of the empirical-Bayes shrinkage of a student's rate toward the population.
SHRINK_SESSIONS = 10.0
# The student's most recent due sessions (within LOOKBACK_DAYS) whose no-shows are counted.
RECENT_SESSIONS = 5
# Per student, over the sessions that ended before the cutoff and started within the window.
STUDENT_COUNT_COLUMNS = ("sessions", "due", "completed", "no_shows", "last_start_ts")
STUDENT_FEATURES: tuple[str, ...] = (
    "stu_sessions_90d",
    "stu_no_shows_90d",
    "stu_recent_no_shows",
    "stu_recent_due",
    "stu_sessions_365d",
    "stu_no_show_rate_365d_shrunk",
    "stu_days_since_last_session",
    "stu_ever_completed",
)


def student_counts(ss: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """``STUDENT_COUNT_COLUMNS`` per student (index ``student_id``) of the rows of ``ss``
    that ended by ``cutoff`` and started within ``STUDENT_WINDOW_DAYS`` of it."""
    start = ss["start_ts"].to_numpy()
    ended = (start + ss["minutes"].to_numpy() * 60) <= cutoff
    ss = ss.loc[ended & (start >= cutoff - STUDENT_WINDOW_DAYS * DAY)]
    status = ss["status"].to_numpy()
    codes, students = pd.factorize(ss["student_id"].to_numpy(), sort=True)
    n = len(students)

    def count(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(codes[mask], minlength=n).astype(np.int64)

    last = np.full(n, -np.inf)
    np.maximum.at(last, codes, ss["start_ts"].to_numpy(dtype=np.float64))
    frame = pd.DataFrame(
        {
            "sessions": count(np.ones(len(ss), dtype=bool)),
            "due": count(np.isin(status, DUE_STATUSES)),
            "completed": count(status == "completed"),
            "no_shows": count(status == "student_no_show"),
            "last_start_ts": last,
        },
        index=pd.Index(np.asarray(students, dtype=np.int64), name="student_id"),
    )
    return frame[list(STUDENT_COUNT_COLUMNS)]


def combine_counts(recent: pd.DataFrame, older: pd.DataFrame) -> pd.DataFrame:
    """Counts of two disjoint sets of rows: sums, and the later of the last starts."""
    counts = [c for c in STUDENT_COUNT_COLUMNS if c != "last_start_ts"]
    out = recent[counts].add(older[counts], fill_value=0)
    last = pd.concat([recent["last_start_ts"], older["last_start_ts"]], axis=1).max(axis=1)
    out["last_start_ts"] = last.reindex(out.index)
    return out[list(STUDENT_COUNT_COLUMNS)]


def older_student_counts(frames: Frames, cutoff: int) -> pd.DataFrame:
    """``student_counts`` of the rows that started before ``cutoff - LOOKBACK_DAYS``
    (training and tests; scoring reads the same with one grouped SQL query)."""
    ss = frames.sessions
    old = ss["start_ts"].to_numpy() < cutoff - LOOKBACK_DAYS * DAY
    return student_counts(ss.loc[old], cutoff)


def _recent_no_shows(ss: pd.DataFrame) -> pd.DataFrame:
    """Per student: due sessions among the last ``RECENT_SESSIONS`` and their no-shows."""
    due = ss.loc[np.isin(ss["status"].to_numpy(), DUE_STATUSES)]
    due = due.sort_values(["student_id", "start_ts", "session_id"])
    last = due.groupby("student_id", sort=False).tail(RECENT_SESSIONS)
    flags = pd.DataFrame(
        {
            "student_id": last["student_id"].to_numpy(),
            "due": 1.0,
            "no_shows": (last["status"].to_numpy() == "student_no_show") * 1.0,
        }
    )
    return flags.groupby("student_id")[["due", "no_shows"]].sum()


def student_features(
    frames: Frames, student_ids: npt.NDArray[np.int64], cutoff: int, *, older: pd.DataFrame | None
) -> pd.DataFrame:
    """``STUDENT_FEATURES`` for each of ``student_ids`` (one row each, in order) as of
    ``cutoff``, plus ``stu_no_show_rate_365d`` (unshrunk; the naive baseline).

    Rows read: sessions that started in the last ``LOOKBACK_DAYS`` and ended by the
    cutoff; older counts come from ``older`` (``None``: computed from ``frames``).
    """
    if older is None:
        older = older_student_counts(frames, cutoff)
    ss = frames.sessions
    start = ss["start_ts"].to_numpy()
    recent = ss.loc[
        (start >= cutoff - LOOKBACK_DAYS * DAY) & (start + ss["minutes"].to_numpy() * 60 <= cutoff)
    ]
    counts_90 = student_counts(recent, cutoff)
    counts = combine_counts(counts_90, older)
    c = counts.reindex(student_ids)
    c90 = counts_90.reindex(student_ids)
    last5 = _recent_no_shows(recent).reindex(student_ids)

    def col(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
        return np.asarray(frame[name].fillna(0).to_numpy(), dtype=np.float64)

    due, no_shows = col(c, "due"), col(c, "no_shows")
    # Population rate of the students counted at this cutoff: the shrinkage prior, and the
    # baseline's score for a student without history.
    prior = float(counts["no_shows"].sum() / max(float(counts["due"].sum()), 1.0))
    last = c["last_start_ts"].to_numpy(dtype=np.float64)
    since = np.where(np.isfinite(last), (cutoff - last) / DAY, float(STUDENT_WINDOW_DAYS))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(due > 0, no_shows / np.maximum(due, 1.0), prior)
    return pd.DataFrame(
        {
            "stu_sessions_90d": col(c90, "sessions"),
            "stu_no_shows_90d": col(c90, "no_shows"),
            "stu_recent_no_shows": col(last5, "no_shows"),
            "stu_recent_due": col(last5, "due"),
            "stu_sessions_365d": col(c, "sessions"),
            "stu_no_show_rate_365d_shrunk": (no_shows + prior * SHRINK_SESSIONS)
            / (due + SHRINK_SESSIONS),
            "stu_days_since_last_session": np.minimum(since, float(STUDENT_WINDOW_DAYS)),
            "stu_ever_completed": (col(c, "completed") > 0).astype(np.float64),
            "stu_no_show_rate_365d": raw,
        }
    )
