"""Pure computations: raw rows → per-tutor daily rollups → the tutor health snapshot.

Every function here takes and returns pandas frames and holds no database state,
so the incremental refresh and the full rebuild run exactly the same code.

Definitions (also in docs/engagement.md):
- A tutor's *day* is the local calendar date in the tutor's IANA time zone.
- Session counters are attributed to the local day of ``scheduled_start``;
  ratings and quality scores count completed sessions only.
- An *active day* has a login or a completed session.
- Windows "7d"/"30d" are the last 7/30 local days up to and including today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

DAILY_COUNTERS: tuple[str, ...] = (
    "logins",
    "events",
    "sessions_booked",
    "sessions_completed",
    "tutor_no_shows",
    "student_no_shows",
    "cancelled_by_tutor",
    "cancelled_by_student",
    "rescheduled_by_tutor",
    "rescheduled_by_student",
    "sessions_due",
    "sessions_cancelled",
    "sessions_rescheduled",
    "rating_sum",
    "rating_count",
    "satisfaction_sum",
    "satisfaction_count",
    "engagement_sum",
    "engagement_count",
    "empathy_sum",
    "empathy_count",
    "clarity_sum",
    "clarity_count",
    "first_sessions",
    "first_session_rating_sum",
    "first_session_rating_count",
    "technical_issues",
    "recommend_yes",
    "recommend_count",
    "late_minutes_sum",
    "late_count",
)
DAILY_COLUMNS: tuple[str, ...] = ("tutor_id", "day", *DAILY_COUNTERS)

EVENT_COLUMNS = ("tutor_id", "event_type", "occurred_at")
SESSION_COLUMNS = (
    "tutor_id",
    "scheduled_start",
    "actual_start",
    "status",
    "cancelled_by",
    "rescheduled_by",
    "is_first_session",
    "student_rating",
    "student_satisfaction",
    "engagement_score",
    "empathy_score",
    "clarity_score",
    "technical_issue",
    "would_recommend",
)

# (daily sum column, daily count column, session column)
_SCORES = (
    ("rating_sum", "rating_count", "student_rating"),
    ("satisfaction_sum", "satisfaction_count", "student_satisfaction"),
    ("engagement_sum", "engagement_count", "engagement_score"),
    ("empathy_sum", "empathy_count", "empathy_score"),
    ("clarity_sum", "clarity_count", "clarity_score"),
)


def _convert(stamps: pd.Series, zones: pd.Series) -> list[tuple[np.ndarray, pd.Series]]:
    """Per distinct zone: the row positions and their stamps converted to that zone."""
    # Naive UTC datetime64 first: iterating tz-aware values element by element is slow.
    aware = pd.to_datetime(stamps, utc=True)
    naive = aware.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    utc = pd.Series(naive).dt.tz_localize("UTC")
    codes, uniques = pd.factorize(zones.astype(str).to_numpy())
    parts = []
    for code, zone in enumerate(uniques):
        positions = np.flatnonzero(codes == code)
        chunk = utc.iloc[positions]
        try:
            converted = chunk.dt.tz_convert(str(zone))
        except (KeyError, ValueError, TypeError):
            converted = chunk  # unknown zones were rejected at ingestion; UTC if one slips in
        parts.append((positions, converted))
    return parts


def local_dates(stamps: pd.Series, zones: pd.Series) -> pd.Series:
    """The local calendar date of each UTC timestamp in the matching IANA zone.

    ``stamps`` are tz-aware (or naive UTC); ``zones`` is aligned with them by position.
    """
    values = np.empty(len(stamps), dtype=object)
    for positions, converted in _convert(stamps, zones):
        # Wall-clock time → whole days in numpy, then datetime.date objects in one C loop.
        local = converted.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
        values[positions] = local.astype(object)
    return pd.Series(values, index=stamps.index, dtype=object)


def local_hours(stamps: pd.Series, zones: pd.Series) -> pd.Series:
    """The local hour (0–23) of each UTC timestamp in the matching IANA zone."""
    values = np.zeros(len(stamps), dtype=np.int64)
    for positions, converted in _convert(stamps, zones):
        values[positions] = converted.dt.hour.to_numpy()
    return pd.Series(values, index=stamps.index)


def local_today(now: datetime, zones: pd.Series) -> pd.Series:
    """Today's local date for each zone in ``zones`` at instant ``now``."""
    stamps = pd.Series(pd.Timestamp(now).tz_convert("UTC"), index=zones.index)
    return local_dates(stamps, zones)


def _flag(series: pd.Series) -> np.ndarray:
    return series.astype("boolean").fillna(False).to_numpy(dtype=bool)


def compute_daily(events: pd.DataFrame, sessions: pd.DataFrame, zones: pd.Series) -> pd.DataFrame:
    """Per (tutor, local day) counters from raw events and sessions.

    ``zones`` maps tutor id → IANA zone. Returns one row per tutor-day that has
    any event or session, with the columns of ``DAILY_COLUMNS``.
    """
    parts: list[pd.DataFrame] = []
    if not events.empty:
        ev = pd.DataFrame({"tutor_id": events["tutor_id"].astype(np.int64)})
        ev["day"] = local_dates(events["occurred_at"], events["tutor_id"].map(zones))
        ev["logins"] = (events["event_type"] == "login").astype(np.int64).to_numpy()
        ev["events"] = 1
        parts.append(ev)
    if not sessions.empty:
        parts.append(_session_counters(sessions, zones))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DAILY_COLUMNS})
    merged = pd.concat(parts, ignore_index=True)
    for column in DAILY_COUNTERS:
        if column not in merged:
            merged[column] = 0
    daily = merged.groupby(["tutor_id", "day"], sort=True)[list(DAILY_COUNTERS)].sum()
    daily = daily.reset_index()
    for column in DAILY_COUNTERS:
        if column.endswith("_sum"):
            daily[column] = daily[column].astype(float)
        else:
            daily[column] = daily[column].astype(np.int64)
    return daily[list(DAILY_COLUMNS)]


def _session_counters(sessions: pd.DataFrame, zones: pd.Series) -> pd.DataFrame:
    s = sessions
    status = s["status"].astype(str)
    completed = (status == "completed").to_numpy()
    out = pd.DataFrame({"tutor_id": s["tutor_id"].astype(np.int64).to_numpy()}, index=s.index)
    out["day"] = local_dates(s["scheduled_start"], s["tutor_id"].map(zones))
    out["sessions_booked"] = 1
    out["sessions_completed"] = completed.astype(np.int64)
    out["tutor_no_shows"] = (status == "tutor_no_show").astype(np.int64).to_numpy()
    out["student_no_shows"] = (status == "student_no_show").astype(np.int64).to_numpy()
    cancelled = (status == "cancelled").to_numpy()
    rescheduled = (status == "rescheduled").to_numpy()
    cancelled_by = s["cancelled_by"].astype(object).to_numpy()
    rescheduled_by = s["rescheduled_by"].astype(object).to_numpy()
    out["cancelled_by_tutor"] = (cancelled & (cancelled_by == "tutor")).astype(np.int64)
    out["cancelled_by_student"] = (cancelled & (cancelled_by == "student")).astype(np.int64)
    out["rescheduled_by_tutor"] = (rescheduled & (rescheduled_by == "tutor")).astype(np.int64)
    out["rescheduled_by_student"] = (rescheduled & (rescheduled_by == "student")).astype(np.int64)
    out["sessions_due"] = (status != "scheduled").astype(np.int64).to_numpy()
    out["sessions_cancelled"] = cancelled.astype(np.int64)
    out["sessions_rescheduled"] = rescheduled.astype(np.int64)
    for sum_col, count_col, source in _SCORES:
        values = pd.to_numeric(s[source], errors="coerce").to_numpy(dtype=float)
        present = completed & ~np.isnan(values)
        out[sum_col] = np.where(present, values, 0.0)
        out[count_col] = present.astype(np.int64)
    first = completed & _flag(s["is_first_session"])
    rating = pd.to_numeric(s["student_rating"], errors="coerce").to_numpy(dtype=float)
    first_rated = first & ~np.isnan(rating)
    out["first_sessions"] = first.astype(np.int64)
    out["first_session_rating_sum"] = np.where(first_rated, rating, 0.0)
    out["first_session_rating_count"] = first_rated.astype(np.int64)
    out["technical_issues"] = (completed & _flag(s["technical_issue"])).astype(np.int64)
    recommend = s["would_recommend"]
    answered = completed & recommend.notna().to_numpy()
    out["recommend_yes"] = (answered & _flag(recommend)).astype(np.int64)
    out["recommend_count"] = answered.astype(np.int64)
    start = pd.to_datetime(s["scheduled_start"], utc=True)
    actual = pd.to_datetime(s["actual_start"], utc=True)
    late = ((actual - start).dt.total_seconds() / 60.0).to_numpy(dtype=float)
    measured = completed & ~np.isnan(late)
    out["late_minutes_sum"] = np.where(measured, np.clip(late, 0, None), 0.0)
    out["late_count"] = measured.astype(np.int64)
    return out


@dataclass(frozen=True)
class HealthParams:
    """Thresholds the snapshot depends on (from settings)."""

    poor_first_session_rating: float = 3.5


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den_f = den.astype(float)
    return (num.astype(float) / den_f.where(den_f > 0)).astype(object).where(den_f > 0, None)


def compute_health(
    daily: pd.DataFrame,
    tutors: pd.DataFrame,
    *,
    now: datetime,
    params: HealthParams | None = None,
) -> pd.DataFrame:
    """The health snapshot of every tutor in ``tutors`` from their full daily history.

    ``tutors`` has columns ``id``, ``timezone``, ``last_login_at``; ``daily`` has
    ``DAILY_COLUMNS`` for (a superset of) those tutors. Returns one row per tutor
    with the ``TutorHealth`` column names (no risk fields).
    """
    params = params or HealthParams()
    t = tutors.set_index("id")
    today = local_today(now, t["timezone"])
    d = daily[daily["tutor_id"].isin(t.index)].copy()
    d["today"] = d["tutor_id"].map(today)
    d = d[d["day"] <= d["today"]]
    age = (pd.to_datetime(d["today"]) - pd.to_datetime(d["day"])).dt.days.to_numpy()
    in7 = age < 7
    in30 = age < 30
    active = ((d["logins"] > 0) | (d["sessions_completed"] > 0)).to_numpy()
    login = (d["logins"] > 0).to_numpy()

    def total(column: str, mask: np.ndarray | None = None) -> pd.Series:
        values = d[column] if mask is None else d[column].where(mask, 0)
        return values.groupby(d["tutor_id"]).sum().reindex(t.index, fill_value=0)

    def day_stat(mask: np.ndarray, how: str) -> pd.Series:
        days = d.loc[mask, ["tutor_id", "day"]]
        # As datetime64, min/max run in pandas' compiled code (on date objects they
        # fell back to a Python loop per tutor); back to dates, None where no day.
        stamps = pd.to_datetime(days["day"]).groupby(days["tutor_id"]).agg(how)
        stamps = stamps.reindex(t.index)
        return pd.Series(
            [None if pd.isna(v) else v.date() for v in stamps], index=t.index, dtype=object
        )

    out = pd.DataFrame(index=t.index)
    out["local_day"] = today
    out["sessions_7d"] = total("sessions_completed", in7)
    out["sessions_30d"] = total("sessions_completed", in30)
    out["avg_rating_7d"] = _ratio(total("rating_sum", in7), total("rating_count", in7))
    out["avg_rating_30d"] = _ratio(total("rating_sum", in30), total("rating_count", in30))
    for name, (sum_col, count_col) in {
        "avg_engagement": ("engagement_sum", "engagement_count"),
        "avg_empathy": ("empathy_sum", "empathy_count"),
        "avg_clarity": ("clarity_sum", "clarity_count"),
        "avg_satisfaction": ("satisfaction_sum", "satisfaction_count"),
    }.items():
        out[name] = _ratio(total(sum_col), total(count_col))
    first_count = total("first_sessions")
    first_avg = _ratio(total("first_session_rating_sum"), total("first_session_rating_count"))
    out["first_session_count"] = first_count
    out["first_session_avg_rating"] = first_avg
    out["poor_first_session_flag"] = [
        bool(n > 0 and avg is not None and avg < params.poor_first_session_rating)
        for n, avg in zip(first_count, first_avg, strict=True)
    ]
    out["recommendation_rate"] = _ratio(total("recommend_yes"), total("recommend_count"))
    out["technical_issue_rate"] = _ratio(total("technical_issues"), total("sessions_completed"))
    out["sessions_total"] = total("sessions_completed")

    last_login = pd.to_datetime(t["last_login_at"], utc=True)
    has_login = last_login.notna()
    login_on = pd.Series([None] * len(t), index=t.index, dtype=object)
    if has_login.any():
        login_on[has_login] = local_dates(last_login[has_login], t.loc[has_login, "timezone"])
    out["last_login_at"] = t["last_login_at"]
    out["last_login_on"] = login_on
    out["days_since_last_login"] = [
        None if on is None else max(0, (td - on).days)
        for on, td in zip(login_on, today, strict=True)
    ]
    current, longest = _streaks(d.loc[login, ["tutor_id", "day", "today"]])
    out["current_login_streak"] = current.reindex(t.index, fill_value=0).astype(np.int64)
    out["longest_login_streak"] = longest.reindex(t.index, fill_value=0).astype(np.int64)
    out["logins_7d"] = total("logins", in7)
    out["logins_30d"] = total("logins", in30)
    out["active_days_7d"] = (
        pd.Series(active & in7, index=d.index).groupby(d["tutor_id"]).sum()
    ).reindex(t.index, fill_value=0)
    out["active_days_30d"] = (
        pd.Series(active & in30, index=d.index).groupby(d["tutor_id"]).sum()
    ).reindex(t.index, fill_value=0)
    # Rates share one denominator: sessions with a recorded outcome (status not 'scheduled').
    due = total("sessions_due", in30)
    out["completion_rate_30d"] = _ratio(total("sessions_completed", in30), due)
    out["tutor_no_show_rate_30d"] = _ratio(total("tutor_no_shows", in30), due)
    out["reschedule_rate_tutor_30d"] = _ratio(total("rescheduled_by_tutor", in30), due)
    out["reschedule_rate_student_30d"] = _ratio(total("rescheduled_by_student", in30), due)
    out["avg_late_minutes_30d"] = _ratio(total("late_minutes_sum", in30), total("late_count", in30))
    out["first_active_on"] = day_stat(active, "min")
    out["last_active_on"] = day_stat(active, "max")
    completed = (d["sessions_completed"] > 0).to_numpy()
    out["first_completed_on"] = day_stat(completed, "min")
    out["last_completed_on"] = day_stat(completed, "max")
    for column in ("first_active_on", "last_active_on", "first_completed_on", "last_completed_on"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    out.index.name = "tutor_id"
    return out.reset_index()


def _streaks(login_days: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(current, longest) run of consecutive login days per tutor.

    The current streak counts the run ending today, or yesterday when the tutor
    has not logged in yet today (a streak is only broken by a whole missed day).
    """
    if login_days.empty:
        empty = pd.Series(dtype=np.int64)
        return empty, empty
    frame = login_days.sort_values(["tutor_id", "day"])
    ordinal = np.array([day.toordinal() for day in frame["day"]], dtype=np.int64)
    tutor = frame["tutor_id"].to_numpy()
    new_run = np.ones(len(frame), dtype=bool)
    new_run[1:] = (tutor[1:] != tutor[:-1]) | (ordinal[1:] - ordinal[:-1] != 1)
    run_id = np.cumsum(new_run)
    runs = pd.DataFrame({"tutor_id": tutor, "run": run_id, "ordinal": ordinal})
    per_run = runs.groupby(["tutor_id", "run"])["ordinal"].agg(["size", "max"])
    longest = per_run["size"].groupby(level=0).max()
    last = per_run.groupby(level=0).tail(1).reset_index(level=1, drop=True)
    today = frame.groupby("tutor_id")["today"].first()
    today_ord = np.array([day.toordinal() for day in today.reindex(last.index)], dtype=np.int64)
    alive = last["max"].to_numpy() >= today_ord - 1
    current = pd.Series(np.where(alive, last["size"].to_numpy(), 0), index=last.index)
    return current, longest


def earliest_day(stamps: pd.Series) -> date | None:
    """A safe lower bound for the local day of the earliest stamp (UTC date − 1)."""
    if stamps.empty:
        return None
    first = pd.to_datetime(stamps, utc=True).min()
    if pd.isna(first):
        return None
    return (first - timedelta(days=1)).date()
