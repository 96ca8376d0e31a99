"""Build the per-tutor input frame the rules read: health plus derived inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from tutorpulse.alerts import inputs, repository
from tutorpulse.alerts.rules import Rule


@dataclass(frozen=True)
class EvalParams:
    first_session_hours: int = 48
    noshow_hours: int = 72
    trend_sessions: int = 10
    trend_min_sessions: int = 6
    trend_days: int = 90


def build_frame(
    db: Session,
    *,
    now: datetime,
    rules: Sequence[Rule],
    params: EvalParams,
    tutor_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per active tutor with a health snapshot (index ``tutor_id``)."""
    health = repository.load_health(db, tutor_ids=tutor_ids)
    frame = health.set_index("tutor_id")
    if frame.empty:
        return frame
    ids = None if tutor_ids is None else list(frame.index)
    frame["poor_first_session_flag"] = frame["poor_first_session_flag"].astype(float)

    # Kept current by the health refresh (the last local day with a completed session).
    frame["last_session_on"] = frame["last_completed_on"]
    frame["days_since_last_session"] = inputs.days_since_last_session(
        frame["local_day"], frame["last_session_on"]
    )

    # Login windows end on each tutor's local day: summed in the database per distinct
    # local day (two or three at any instant, across time zones).
    sums = [
        repository.login_window_sums(
            db,
            local_day=day,
            recent_days=inputs.LOGIN_RECENT_DAYS,
            baseline_days=inputs.LOGIN_BASELINE_DAYS,
            tutor_ids=None if ids is None else list(frame.index[frame["local_day"] == day]),
        )
        for day in sorted(frame["local_day"].dropna().unique())
    ]
    window = pd.concat(sums) if sums else pd.DataFrame(columns=["tutor_id", "recent", "baseline"])
    window = window.set_index("tutor_id")
    frame = frame.join(inputs.login_ratios(window["recent"], window["baseline"], frame.index))

    # The trend only for tutors with enough recent sessions to have one.
    candidates = frame.index[frame["sessions_30d"] >= params.trend_min_sessions // 2].tolist()
    if candidates:
        scores = repository.recent_engagement_scores(
            db,
            since=now - timedelta(days=params.trend_days),
            until=now,
            last_n=params.trend_sessions,
            tutor_ids=candidates,
        )
        trend = inputs.engagement_trend(
            scores, last_n=params.trend_sessions, min_n=params.trend_min_sessions
        )
        frame = frame.join(trend)

    first = repository.upcoming_first_sessions(
        db, start=now, end=now + timedelta(hours=params.first_session_hours)
    ).set_index("tutor_id")
    frame = frame.join(first)
    frame["upcoming_first_sessions"] = pd.to_numeric(
        frame["upcoming_first_sessions"], errors="coerce"
    ).fillna(0)

    noshow = repository.upcoming_noshow(
        db, start=now, end=now + timedelta(hours=params.noshow_hours)
    ).set_index("tutor_id")
    frame = frame.join(noshow)
    # No scored session ahead is a count of zero, not a missing value.
    frame["noshow_high_sessions"] = pd.to_numeric(
        frame["noshow_high_sessions"], errors="coerce"
    ).fillna(0)
    return frame
