"""No-show risk per upcoming session: features, training table, baselines.

Two targets share the sessions, cutoffs and session features: ``tutor_no_show`` (the
tutor does not show) and ``student_no_show`` (the student does not show; its features
add the student's history, ``risk.student``, and its baseline is the student's own
past no-show rate).

At a cutoff c, the sessions to score are those starting in ``[c, c + window)``.
Their features are the tutor's features as of c (history with recency
weighting, reliability, recent activity) plus what is known about the booking
itself at c: hours until it starts, the tutor's local hour and weekday, odd
hours, its length, whether it is the pair's first session, and the pair's
history before c (sessions, tutor reschedules). The session's own outcome
columns (status, times, ratings) are never read.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.churn import original_churn_score
from tutorpulse.risk.features import TUTOR_FEATURES, compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.reliability import TRAIT_FEATURES
from tutorpulse.risk.student import STUDENT_FEATURES, student_features

TARGET = "tutor_no_show"
STUDENT_TARGET = "student_no_show"
PAIR_LOOKBACK_DAYS = 90
ODD_HOURS = frozenset({23, 0, 1, 2, 3, 4, 5, 6})
# What is known of the booking itself and of the pair's volume, for both targets.
BOOKING_FEATURES: tuple[str, ...] = (
    "hours_ahead",
    "local_hour",
    "odd_hour",
    "weekend",
    "minutes",
    "first_session",
    "pair_sessions_90d",
)
SESSION_FEATURES: tuple[str, ...] = (
    *BOOKING_FEATURES,
    "pair_tutor_reschedules_90d",
    "pair_tutor_no_shows_90d",
)
NOSHOW_FEATURES: tuple[str, ...] = SESSION_FEATURES + TUTOR_FEATURES + TRAIT_FEATURES
# Student no-show: what is known of the booking, the pair and the student; of the tutor
# only how often their students failed to show and how busy they are.
STUDENT_NOSHOW_FEATURES: tuple[str, ...] = (
    *BOOKING_FEATURES,
    "pair_student_no_shows_90d",
    *STUDENT_FEATURES,
    "student_no_shows_90d",
    "sessions_90d",
)
FEATURES: dict[str, tuple[str, ...]] = {
    TARGET: NOSHOW_FEATURES,
    STUDENT_TARGET: STUDENT_NOSHOW_FEATURES,
}
BASELINES = {
    TARGET: "original rule",
    STUDENT_TARGET: "student's own past no-show rate",
}


def original_noshow_score(features: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The original's tutor-level rule (ORIGINAL §10): 0.4·no-show rate + 0.2·reschedule rate
    + 0.2·(1 − reliability) + 0.2·churn, over the tutor's last 30 days; reliability is the
    completion rate and churn the original's rule score. Every session of a tutor gets it."""
    f = features
    return np.asarray(
        0.4 * f["no_show_rate_30d"].fillna(0).to_numpy()
        + 0.2 * f["reschedule_rate_30d"].fillna(0).to_numpy()
        + 0.2 * (1 - f["completion_rate_30d"].fillna(1).to_numpy())
        + 0.2 * original_churn_score(f)
    )


def _local_parts(
    ts: npt.NDArray[np.int64], zones: npt.NDArray[np.object_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Local hour and weekday (Monday 0) of each start in its tutor's timezone."""
    hour = np.zeros(ts.size)
    weekday = np.zeros(ts.size)
    utc = pd.to_datetime(pd.Series(ts), unit="s", utc=True)
    zone_series = pd.Series(zones).fillna("UTC")
    for zone in zone_series.unique():
        sel = (zone_series == zone).to_numpy()
        try:
            local = utc[sel].dt.tz_convert(zone)
        except Exception:  # an unknown zone name: fall back to UTC
            local = utc[sel]
        hour[sel] = local.dt.hour.to_numpy()
        weekday[sel] = local.dt.weekday.to_numpy()
    return hour, weekday


def session_features(
    frames: Frames, targets: pd.DataFrame, cutoff: int, tutor_features: pd.DataFrame
) -> pd.DataFrame:
    """Features of the ``targets`` sessions (rows of ``frames.sessions``) as of ``cutoff``.

    Sessions whose tutor is not eligible at the cutoff are dropped.
    """
    targets = targets[targets["tutor_id"].isin(tutor_features.index)]
    tutors = frames.tutors.set_index("tutor_id")
    start = targets["start_ts"].to_numpy()
    zones = tutors["timezone"].reindex(targets["tutor_id"]).to_numpy()
    hour, weekday = _local_parts(start, zones)

    hist = frames.sessions
    hts = hist["start_ts"].to_numpy()
    ended = hts + hist["minutes"].to_numpy() * 60
    past = hist.loc[(ended <= cutoff) & (hts >= cutoff - PAIR_LOOKBACK_DAYS * DAY)]
    status = past["status"].to_numpy()
    pair_hist = (
        pd.DataFrame(
            {
                "tutor_id": past["tutor_id"].to_numpy(),
                "student_id": past["student_id"].to_numpy(),
                "n": 1.0,
                "resched": (
                    (status == "rescheduled") & (past["rescheduled_by"].to_numpy() == "tutor")
                )
                * 1.0,
                "tns": (status == "tutor_no_show") * 1.0,
                "sns": (status == "student_no_show") * 1.0,
            }
        )
        .groupby(["tutor_id", "student_id"])[["n", "resched", "tns", "sns"]]
        .sum()
    )
    key = pd.MultiIndex.from_arrays([targets["tutor_id"], targets["student_id"]])
    pair = pair_hist.reindex(key).fillna(0.0)

    out = pd.DataFrame(
        {
            "session_id": targets["session_id"].to_numpy(),
            "tutor_id": targets["tutor_id"].to_numpy(),
            "student_id": targets["student_id"].to_numpy(),
            "start_ts": start,
            "hours_ahead": (start - cutoff) / 3600.0,
            "local_hour": hour,
            "odd_hour": np.isin(hour, list(ODD_HOURS)).astype(np.float64),
            "weekend": (weekday >= 5).astype(np.float64),
            "minutes": targets["minutes"].to_numpy(dtype=np.float64),
            "first_session": targets["is_first"].to_numpy(dtype=np.float64),
            "pair_sessions_90d": pair["n"].to_numpy(),
            "pair_tutor_reschedules_90d": pair["resched"].to_numpy(),
            "pair_tutor_no_shows_90d": pair["tns"].to_numpy(),
            "pair_student_no_shows_90d": pair["sns"].to_numpy(),
        }
    )
    tf = tutor_features.reindex(out["tutor_id"].to_numpy())
    for name in TUTOR_FEATURES + TRAIT_FEATURES:
        out[name] = tf[name].to_numpy()
    out["baseline"] = original_noshow_score(tf)
    return out


def add_student_features(
    frames: Frames, rows: pd.DataFrame, cutoff: int, *, older: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``rows`` (``session_features`` output) with ``STUDENT_FEATURES`` added and
    ``baseline`` replaced by the student's own past no-show rate (365 days; students
    without a due session get the population rate). ``older``: see ``student_features``."""
    stu = student_features(frames, rows["student_id"].to_numpy(), cutoff, older=older)
    out = rows.reset_index(drop=True).copy()
    for name in STUDENT_FEATURES:
        out[name] = stu[name].to_numpy()
    out["baseline"] = stu["stu_no_show_rate_365d"].to_numpy()
    return out


def noshow_dataset(
    frames: Frames, cutoffs: list[int], *, window_days: int, target: str = TARGET
) -> pd.DataFrame:
    """Sessions with a known outcome starting in ``[c, c + window)`` for each cutoff, with
    features as of c, ``label`` (1 = the session's status is ``target``) and ``cutoff``."""
    if target not in FEATURES:
        raise ValueError(f"unknown no-show target {target!r}")
    parts = []
    ss = frames.sessions
    start = ss["start_ts"].to_numpy()
    decided = ss["status"].to_numpy() != "scheduled"
    for cutoff in cutoffs:
        sel = decided & (start >= cutoff) & (start < cutoff + window_days * DAY)
        targets = ss.loc[sel]
        feats = compute_tutor_features(frames, cutoff)
        rows = session_features(frames, targets, cutoff, feats)
        if target == STUDENT_TARGET:
            rows = add_student_features(frames, rows, cutoff)
        label = targets.set_index("session_id")["status"].reindex(rows["session_id"])
        rows["label"] = (label.to_numpy() == target).astype(np.int8)
        rows["cutoff"] = cutoff
        parts.append(rows)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def week_cutoffs(*, start_ts: int, end_ts: int, window_days: int, warmup_days: int) -> list[int]:
    """Cutoffs every ``window_days`` whose window ends by ``end_ts``, newest last."""
    last = ((end_ts - window_days * DAY) // DAY) * DAY
    first = start_ts + warmup_days * DAY
    out = []
    c = last
    while c >= first:
        out.append(int(c))
        c -= window_days * DAY
    return sorted(out)


def split_cutoffs(
    cutoffs: list[int], *, test_windows: int, valid_windows: int
) -> tuple[list[int], list[int], list[int]]:
    """The last ``test_windows`` cutoffs are held out, the ``valid_windows`` before them
    validate, the rest train (windows do not overlap). Raises ValueError if too few."""
    if len(cutoffs) < test_windows + valid_windows + 1:
        raise ValueError("not enough history for train, validation and test windows")
    test = cutoffs[-test_windows:]
    valid = cutoffs[-(test_windows + valid_windows) : -test_windows]
    train = cutoffs[: -(test_windows + valid_windows)]
    return train, valid, test
