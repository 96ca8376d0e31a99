"""The raw rows the risk models read, as pandas frames with epoch-second times.

Both the database (``risk.repository``) and a generated world
(``frames_from_world``, for tests and benchmarks) produce the same ``Frames``,
so features, labels and models never know where their rows came from.
Times are integer seconds since the Unix epoch (UTC); missing times are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

DAY = 86_400

TUTOR_COLUMNS = (
    "tutor_id",
    "joined_ts",
    "primary_subject",
    "certification_level",
    "timezone",
    "status",
    "churned_ts",
)
SESSION_COLUMNS = (
    "session_id",
    "tutor_id",
    "student_id",
    "subject",
    "start_ts",
    "minutes",
    "status",
    "cancelled_by",
    "rescheduled_by",
    "is_first",
    "rating",
    "engagement",
    "late_s",
)
EVENT_COLUMNS = ("tutor_id", "event_type", "ts")


@dataclass
class Frames:
    """Tutors, sessions and events; ``end_ts`` is the end of the observed history."""

    tutors: pd.DataFrame
    sessions: pd.DataFrame
    events: pd.DataFrame
    end_ts: int

    def __post_init__(self) -> None:
        self.tutors = normalise_tutors(self.tutors)
        self.sessions = normalise_sessions(self.sessions)
        self.events = normalise_events(self.events)


def to_epoch(value: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime (naive values are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def from_epoch(ts: float) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


def _str(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), None)


def normalise_tutors(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: df[c] for c in TUTOR_COLUMNS})
    out["tutor_id"] = out["tutor_id"].astype(np.int64)
    out["joined_ts"] = out["joined_ts"].astype(np.int64)
    out["churned_ts"] = out["churned_ts"].astype(np.float64)
    for col in ("primary_subject", "certification_level", "timezone", "status"):
        out[col] = _str(out[col])
    return out.reset_index(drop=True)


def normalise_sessions(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: df[c] for c in SESSION_COLUMNS})
    for col in ("session_id", "tutor_id", "student_id", "start_ts", "minutes"):
        out[col] = out[col].astype(np.int64)
    for col in ("rating", "engagement", "late_s"):
        out[col] = out[col].astype(np.float64)
    out["is_first"] = out["is_first"].fillna(False).astype(bool)
    for col in ("subject", "status", "cancelled_by", "rescheduled_by"):
        out[col] = _str(out[col])
    return out.reset_index(drop=True)


def normalise_events(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: df[c] for c in EVENT_COLUMNS})
    out["tutor_id"] = out["tutor_id"].astype(np.int64)
    out["ts"] = out["ts"].astype(np.int64)
    out["event_type"] = _str(out["event_type"])
    return out.reset_index(drop=True)


def _epoch_col(col: Any) -> np.ndarray:
    """Arrow/pandas timestamps → float seconds (NaN for nulls)."""
    s = pd.Series(col)
    if pd.api.types.is_datetime64_any_dtype(s):
        if s.dt.tz is None:
            s = s.dt.tz_localize("UTC")
        seconds = (s - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return np.asarray(seconds, dtype=np.float64)
    return np.asarray(s, dtype=np.float64)


def frames_from_world(world: Any) -> Frames:
    """Frames of a ``tutorpulse.world`` World (ids become integer codes in id order)."""
    tutors = world.tutors.to_pandas()
    sessions = world.sessions.to_pandas()
    events = world.events.to_pandas()
    tutor_code = {tid: i + 1 for i, tid in enumerate(tutors["tutor_id"])}
    student_code = {sid: i + 1 for i, sid in enumerate(sorted(set(sessions["student_id"])))}
    joined = pd.to_datetime(tutors["joined_on"]).dt.tz_localize("UTC")
    t = pd.DataFrame(
        {
            "tutor_id": tutors["tutor_id"].map(tutor_code),
            "joined_ts": _epoch_col(joined).astype(np.int64),
            "primary_subject": tutors["subjects"].str.split(";").str[0],
            "certification_level": tutors["certification_level"],
            "timezone": tutors["timezone"],
            "status": tutors["status"],
            "churned_ts": _epoch_col(tutors["churned_at"]),
        }
    )
    start = _epoch_col(sessions["scheduled_start"])
    s = pd.DataFrame(
        {
            "session_id": np.arange(1, len(sessions) + 1),
            "tutor_id": sessions["tutor_id"].map(tutor_code),
            "student_id": sessions["student_id"].map(student_code),
            "subject": sessions["subject"],
            "start_ts": start.astype(np.int64),
            "minutes": sessions["scheduled_minutes"],
            "status": sessions["status"],
            "cancelled_by": sessions["cancelled_by"],
            "rescheduled_by": sessions["rescheduled_by"],
            "is_first": sessions["is_first_session"],
            "rating": sessions["student_rating"],
            "engagement": sessions["engagement_score"],
            "late_s": _epoch_col(sessions["actual_start"]) - start,
        }
    )
    e = pd.DataFrame(
        {
            "tutor_id": events["tutor_id"].map(tutor_code),
            "event_type": events["event_type"],
            "ts": _epoch_col(events["occurred_at"]).astype(np.int64),
        }
    )
    end = to_epoch(world.config.now)
    return Frames(tutors=t, sessions=s, events=e, end_ts=end)


def tutor_codes(world: Any) -> dict[str, int]:
    """External tutor id → the integer code ``frames_from_world`` gives it."""
    return {tid: i + 1 for i, tid in enumerate(world.tutors.column("tutor_id").to_pylist())}
