"""Tutor features as of a cutoff, from rows strictly before it (pure, no database).

Every feature reads only:
* events with ``ts < cutoff`` (and ``ts >= cutoff - LOOKBACK_DAYS``),
* sessions that *ended* before the cutoff (``start + minutes <= cutoff``) and
  started within the lookback, so an outcome or rating known only later is never read
  (the reliability counts of ``risk.reliability`` look back up to 365 days),
* the tutor's joined date, primary subject and certification level.

The tutor's current ``status``, ``churned_at`` and ``last_login_at`` are *not*
features: they describe the present, not the cutoff (they are used only to
decide who is eligible and, in ``labels``, what happened later).
All counting is vectorised with ``np.bincount`` over tutor positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.reliability import (
    DUE_STATUSES,
    LATE_SECONDS,
    TRAIT_FEATURES,
    reliability_features,
    session_counts,
)

LOOKBACK_DAYS = 90
# Events are read as rows for this many days; older logins only as each tutor's latest.
EVENT_ROW_DAYS = 60
FAILED_FIRST_WINDOW_DAYS = 60
EW_HALF_LIFE_DAYS = 30.0
SUBJECTS = ("Math", "Science", "English", "History", "Test Prep", "Programming")
CERTIFICATIONS = ("basic", "advanced", "expert")
OTHER_EVENT_TYPES = (
    "profile_updated",
    "availability_updated",
    "message_sent",
    "training_completed",
    "opportunity_viewed",
)

NUMERIC_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "log_tenure",
    "days_since_login",
    "days_since_activity",
    "logins_7d",
    "logins_30d",
    "logins_prev_30d",
    "logins_14d",
    "other_events_14d",
    "tutor_failures_14d",
    "completed_14d",
    "activity_ratio_14d",
    "completed_ratio_14d",
    "login_streak_days",
    "active_days_14d",
    "other_events_30d",
    "other_events_prev_30d",
    "bookings_14d",
    "bookings_prev_28d",
    "completed_7d",
    "completed_30d",
    "completed_prev_30d",
    "students_30d",
    "new_students_30d",
    "sessions_90d",
    "tutor_no_shows_90d",
    "tutor_cancels_90d",
    "tutor_reschedules_90d",
    "student_no_shows_90d",
    "tutor_failure_rate_90d",
    "no_show_rate_90d",
    "no_show_rate_30d",
    "reschedule_rate_30d",
    "completion_rate_30d",
    "late_share_90d",
    "ew_no_shows",
    "sessions_180d",
    "tutor_failures_180d",
    "failure_rate_180d_shrunk",
    "late_rate_180d_shrunk",
    "no_show_rate_180d_shrunk",
    "ew_sessions",
    "rating_7d",
    "rating_30d",
    "rating_90d",
    "rating_trend",
    "low_rating_share_90d",
    "engagement_90d",
    "first_sessions_90d",
    "first_rating_90d",
    "failed_first_60d",
)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(
    [f"subject_{s.lower().replace(' ', '_')}" for s in SUBJECTS]
    + [f"cert_{c}" for c in CERTIFICATIONS]
)
TUTOR_FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def _days(
    seconds: npt.NDArray[np.integer] | npt.NDArray[np.floating] | int,
) -> npt.NDArray[np.float64]:
    return np.asarray(seconds, dtype=np.float64) / DAY


def _rate(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)


class _Counter:
    """Sums per tutor position (rows whose tutor is not eligible are dropped)."""

    def __init__(self, positions: npt.NDArray[np.int64], n: int) -> None:
        self.ok = positions >= 0
        self.pos = positions[self.ok]
        self.n = n

    def count(self, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        return np.bincount(self.pos[mask[self.ok]], minlength=self.n).astype(np.float64)

    def total(
        self, mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        m = mask[self.ok]
        out = np.bincount(self.pos[m], weights=values[self.ok][m], minlength=self.n)
        return np.asarray(out, dtype=np.float64)

    def mean(
        self, mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        m = mask & ~np.isnan(values)
        return _rate(self.total(m, np.nan_to_num(values)), self.count(m))

    def maximum(
        self, mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        out = np.full(self.n, -np.inf)
        m = mask[self.ok]
        np.maximum.at(out, self.pos[m], values[self.ok][m])
        return out


def eligible_tutors(frames: Frames, cutoff: int) -> pd.DataFrame:
    """Tutors who had joined and had not (explicitly) churned before ``cutoff``."""
    t = frames.tutors
    joined = t["joined_ts"].to_numpy() < cutoff
    churned = t["churned_ts"].to_numpy()
    alive = np.isnan(churned) | (churned >= cutoff)
    return t.loc[joined & alive].reset_index(drop=True)


@dataclass
class OlderHistory:
    """What the features need of the rows older than the row windows, per tutor:
    ``session_counts`` (``reliability.COUNT_COLUMNS``) of the sessions that started before
    ``cutoff - LOOKBACK_DAYS``, and ``last_login`` (epoch seconds) of the logins in
    ``[cutoff - LOOKBACK_DAYS, cutoff - EVENT_ROW_DAYS)``; both indexed by ``tutor_id``."""

    session_counts: pd.DataFrame
    last_login: pd.Series


def older_history(frames: Frames, cutoff: int) -> OlderHistory:
    """``OlderHistory`` counted from the rows of ``frames`` (training and tests); scoring
    reads the same with two grouped queries (``risk.repository.older_history``)."""
    ss = frames.sessions
    old = ss["start_ts"].to_numpy() < cutoff - LOOKBACK_DAYS * DAY
    ev = frames.events
    ets = ev["ts"].to_numpy()
    logins = ev.loc[
        (ev["event_type"].to_numpy() == "login")
        & (ets >= cutoff - LOOKBACK_DAYS * DAY)
        & (ets < cutoff - EVENT_ROW_DAYS * DAY)
    ]
    return OlderHistory(
        session_counts=session_counts(ss.loc[old], cutoff),
        last_login=logins.groupby("tutor_id")["ts"].max().astype(np.float64),
    )


def compute_tutor_features(
    frames: Frames, cutoff: int, *, older: OlderHistory | None = None
) -> pd.DataFrame:
    """One row per eligible tutor (index ``tutor_id``) with ``TUTOR_FEATURES`` and
    ``TRAIT_FEATURES`` as of ``cutoff``.

    Rows read: sessions that started in the last ``LOOKBACK_DAYS`` and events of the last
    ``EVENT_ROW_DAYS``; anything older comes from ``older`` (by default computed from
    ``frames``; scoring, which reads only the recent rows, passes it in).
    Also returns two helper columns that are not model inputs:
    ``inactive_days`` (days since the last login or completed session, capped at
    the lookback) and ``last_activity_ts``.
    """
    tutors = eligible_tutors(frames, cutoff)
    index = pd.Index(tutors["tutor_id"].to_numpy())
    n = len(index)
    lo = cutoff - LOOKBACK_DAYS * DAY
    out: dict[str, npt.NDArray[np.float64]] = {}

    if older is None:
        older = older_history(frames, cutoff)

    # --- events ---------------------------------------------------------------------
    ev = frames.events
    ets = ev["ts"].to_numpy()
    in_window = (ets < cutoff) & (ets >= cutoff - EVENT_ROW_DAYS * DAY)
    ev = ev.loc[in_window]
    ets = ev["ts"].to_numpy()
    e_age = _days(cutoff - ets)
    ec = _Counter(index.get_indexer(ev["tutor_id"].to_numpy()), n)
    etype = ev["event_type"].to_numpy()
    is_login = etype == "login"
    is_other = np.isin(etype, OTHER_EVENT_TYPES)
    is_booking = etype == "session_scheduled"
    out["logins_7d"] = ec.count(is_login & (e_age <= 7))
    out["logins_30d"] = ec.count(is_login & (e_age <= 30))
    out["logins_prev_30d"] = ec.count(is_login & (e_age > 30) & (e_age <= 60))
    out["logins_14d"] = ec.count(is_login & (e_age <= 14))
    out["other_events_14d"] = ec.count(is_other & (e_age <= 14))
    out["other_events_30d"] = ec.count(is_other & (e_age <= 30))
    out["other_events_prev_30d"] = ec.count(is_other & (e_age > 30) & (e_age <= 60))
    out["bookings_14d"] = ec.count(is_booking & (e_age <= 14))
    out["bookings_prev_28d"] = ec.count(is_booking & (e_age > 14) & (e_age <= 42))
    last_login = np.maximum(
        ec.maximum(is_login, ets.astype(np.float64)),
        older.last_login.reindex(index).fillna(-np.inf).to_numpy(dtype=np.float64),
    )

    # Login streak: consecutive UTC days with a login, ending on the day before the cutoff
    # (or on the cutoff's own day when it already has one).
    day_back = np.floor((cutoff - 1) / DAY).astype(np.int64) - np.floor(ets / DAY).astype(np.int64)
    recent = is_login & (day_back < 31) & ec.ok
    grid = np.zeros((n, 32), dtype=bool)
    grid[ec.pos[recent[ec.ok]], day_back[recent]] = True
    # If there is no login yet on the cutoff day, the streak may end on the previous day.
    start_col = np.where(grid[:, 0], 0, 1)
    shifted = np.where(start_col[:, None] == 0, grid[:, :31], grid[:, 1:32])
    out["login_streak_days"] = np.argmin(np.c_[shifted, np.zeros(n, bool)], axis=1).astype(
        np.float64
    )
    any_event_day = (day_back < 14) & ec.ok
    active = np.zeros((n, 14), dtype=bool)
    active[ec.pos[any_event_day[ec.ok]], day_back[any_event_day]] = True

    # --- sessions -------------------------------------------------------------------
    ss = frames.sessions
    start = ss["start_ts"].to_numpy()
    ss = ss.loc[start >= lo]
    counts = session_counts(ss, cutoff).add(older.session_counts, fill_value=0)
    out.update(reliability_features(counts, index))
    start = ss["start_ts"].to_numpy()
    ss = ss.loc[start + ss["minutes"].to_numpy() * 60 <= cutoff]
    start = ss["start_ts"].to_numpy()
    age = _days(cutoff - start)
    sc = _Counter(index.get_indexer(ss["tutor_id"].to_numpy()), n)
    status = ss["status"].to_numpy()
    completed = status == "completed"
    tns = status == "tutor_no_show"
    sns = status == "student_no_show"
    t_cancel = (status == "cancelled") & (ss["cancelled_by"].to_numpy() == "tutor")
    t_resched = (status == "rescheduled") & (ss["rescheduled_by"].to_numpy() == "tutor")
    due = np.isin(status, DUE_STATUSES)
    first = ss["is_first"].to_numpy()
    rating = ss["rating"].to_numpy()
    engagement = ss["engagement"].to_numpy()
    late = ss["late_s"].to_numpy()
    d7, d30, d60 = age <= 7, age <= 30, age <= 60
    every = np.ones(len(ss), dtype=bool)

    out["completed_7d"] = sc.count(completed & d7)
    out["completed_30d"] = sc.count(completed & d30)
    out["completed_prev_30d"] = sc.count(completed & ~d30 & d60)
    out["completed_14d"] = sc.count(completed & (age <= 14))
    out["tutor_failures_14d"] = sc.count((tns | t_cancel | t_resched) & (age <= 14))
    sessions_90d = sc.count(every)
    out["sessions_90d"] = sessions_90d
    out["tutor_no_shows_90d"] = sc.count(tns)
    out["tutor_cancels_90d"] = sc.count(t_cancel)
    out["tutor_reschedules_90d"] = sc.count(t_resched)
    out["student_no_shows_90d"] = sc.count(sns)
    failures = out["tutor_no_shows_90d"] + out["tutor_cancels_90d"] + out["tutor_reschedules_90d"]
    out["tutor_failure_rate_90d"] = _rate(failures, sessions_90d)
    out["no_show_rate_90d"] = _rate(out["tutor_no_shows_90d"], sc.count(due))
    out["no_show_rate_30d"] = _rate(sc.count(tns & d30), sc.count(d30))
    out["reschedule_rate_30d"] = _rate(sc.count(t_resched & d30), sc.count(d30))
    out["completion_rate_30d"] = _rate(out["completed_30d"], sc.count(d30))
    out["late_share_90d"] = _rate(sc.count(completed & (late > LATE_SECONDS)), sc.count(completed))
    weight = np.power(0.5, age / EW_HALF_LIFE_DAYS)
    out["ew_no_shows"] = sc.total(tns, weight)
    out["ew_sessions"] = sc.total(due, weight)
    out["rating_7d"] = sc.mean(completed & d7, rating)
    out["rating_30d"] = sc.mean(completed & d30, rating)
    out["rating_90d"] = sc.mean(completed, rating)
    out["rating_trend"] = out["rating_30d"] - out["rating_90d"]
    rated = completed & ~np.isnan(rating)
    out["low_rating_share_90d"] = _rate(sc.count(rated & (rating <= 2)), sc.count(rated))
    out["engagement_90d"] = sc.mean(completed, engagement)
    out["first_sessions_90d"] = sc.count(first & (due | completed))
    out["first_rating_90d"] = sc.mean(first & completed, rating)
    failed_first = first & (tns | (completed & (rating <= 2)))
    out["failed_first_60d"] = sc.count(failed_first & (age <= FAILED_FIRST_WINDOW_DAYS))

    # Distinct students (all bookings) and new students (first sessions) in 30 days.
    pairs = pd.DataFrame({"p": sc.pos, "s": ss["student_id"].to_numpy()[sc.ok]})
    recent_pairs = pairs.loc[d30[sc.ok]].drop_duplicates()
    out["students_30d"] = np.bincount(recent_pairs["p"].to_numpy(), minlength=n).astype(float)
    out["new_students_30d"] = sc.count(first & d30)

    last_session = sc.maximum(completed, start.astype(np.float64))
    sess_day_back = np.floor((cutoff - 1) / DAY).astype(np.int64) - np.floor(start / DAY).astype(
        np.int64
    )
    sel = completed & (sess_day_back < 14) & sc.ok
    active[sc.pos[sel[sc.ok]], sess_day_back[sel]] = True
    out["active_days_14d"] = active.sum(axis=1).astype(np.float64)

    # Recent activity against the tutor's own earlier level (fading before churn).
    recent_events = out["logins_14d"] + out["other_events_14d"]
    earlier_events = (out["logins_prev_30d"] + out["other_events_prev_30d"]) * 14 / 30
    out["activity_ratio_14d"] = (recent_events + 1) / (earlier_events + 1)
    out["completed_ratio_14d"] = (out["completed_14d"] + 1) / (
        out["completed_prev_30d"] * 14 / 30 + 1
    )

    # --- tutor attributes -----------------------------------------------------------
    tenure = _days(cutoff - tutors["joined_ts"].to_numpy())
    out["tenure_days"] = tenure
    out["log_tenure"] = np.log1p(np.maximum(tenure, 0.0))
    cap = float(LOOKBACK_DAYS)
    since_login = np.where(np.isfinite(last_login), _days(cutoff - last_login), cap)
    last_activity = np.maximum(last_login, last_session)
    since_activity = np.where(np.isfinite(last_activity), _days(cutoff - last_activity), cap)
    # A tutor cannot have been inactive for longer than they have been a tutor.
    out["days_since_login"] = np.minimum(np.minimum(since_login, cap), tenure)
    out["days_since_activity"] = np.minimum(np.minimum(since_activity, cap), tenure)
    subject = tutors["primary_subject"].to_numpy()
    for s in SUBJECTS:
        out[f"subject_{s.lower().replace(' ', '_')}"] = (subject == s).astype(np.float64)
    cert = tutors["certification_level"].to_numpy()
    for c in CERTIFICATIONS:
        out[f"cert_{c}"] = (cert == c).astype(np.float64)

    frame = pd.DataFrame({name: out[name] for name in TUTOR_FEATURES + TRAIT_FEATURES}, index=index)
    frame.index.name = "tutor_id"
    frame["inactive_days"] = np.minimum(since_activity, tenure)
    frame["last_activity_ts"] = np.where(np.isfinite(last_activity), last_activity, np.nan)
    return frame
