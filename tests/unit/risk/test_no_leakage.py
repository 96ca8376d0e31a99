"""No feature reads data at or after its cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.features import TUTOR_FEATURES, compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.noshow import (
    NOSHOW_FEATURES,
    STUDENT_NOSHOW_FEATURES,
    add_student_features,
    session_features,
)
from tutorpulse.risk.reliability import TRAIT_FEATURES


def _future_rows(frames: Frames, cutoff: int, rng: np.random.Generator) -> Frames:
    """The same history plus extra sessions and events at or after the cutoff, and the
    outcomes of every session at/after the cutoff rewritten."""
    tutors = frames.tutors["tutor_id"].to_numpy()
    n = 5000
    who = rng.choice(tutors, n)
    when = cutoff + rng.integers(0, 30 * DAY, n)
    when[:50] = cutoff  # exactly at the cutoff
    events = pd.concat(
        [
            frames.events,
            pd.DataFrame(
                {
                    "tutor_id": who,
                    "event_type": rng.choice(["login", "session_scheduled", "message_sent"], n),
                    "ts": when,
                }
            ),
        ],
        ignore_index=True,
    )
    extra = pd.DataFrame(
        {
            "session_id": np.arange(10**8, 10**8 + n),
            "tutor_id": who,
            "student_id": rng.integers(1, 100, n),
            "subject": "Math",
            "start_ts": when,
            "minutes": 60,
            "status": rng.choice(["completed", "tutor_no_show", "student_no_show", "cancelled"], n),
            "cancelled_by": "tutor",
            "rescheduled_by": None,
            "is_first": rng.random(n) < 0.5,
            "rating": 1.0,
            "engagement": 1.0,
            "late_s": 900.0,
        }
    )
    sessions = frames.sessions.copy()
    later = sessions["start_ts"].to_numpy() >= cutoff
    sessions.loc[later, "status"] = rng.choice(
        ["tutor_no_show", "student_no_show"], int(later.sum())
    )
    sessions.loc[later, "rating"] = 1.0
    sessions.loc[later, "late_s"] = 1200.0
    sessions = pd.concat([sessions, extra], ignore_index=True)
    return Frames(tutors=frames.tutors, sessions=sessions, events=events, end_ts=frames.end_ts)


@pytest.mark.parametrize("days_before_end", [45, 120, 200])
def test_future_rows_change_no_feature(days_before_end: int) -> None:
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - days_before_end * DAY + 3 * 3600  # not on a day boundary
    rng = np.random.default_rng(days_before_end)
    polluted = _future_rows(frames, cutoff, rng)

    clean_t = compute_tutor_features(frames, cutoff)
    dirty_t = compute_tutor_features(polluted, cutoff)
    columns = list(TUTOR_FEATURES + TRAIT_FEATURES)
    pd.testing.assert_frame_equal(clean_t[columns], dirty_t[columns])

    # Sessions to score: the original upcoming ones (their outcomes were rewritten).
    upcoming = frames.sessions[
        (frames.sessions["start_ts"] >= cutoff) & (frames.sessions["start_ts"] < cutoff + 7 * DAY)
    ]
    dirty_upcoming = polluted.sessions[polluted.sessions["session_id"].isin(upcoming["session_id"])]
    clean_s = session_features(frames, upcoming, cutoff, clean_t)
    dirty_s = session_features(polluted, dirty_upcoming, cutoff, dirty_t)
    assert len(clean_s) > 0
    pd.testing.assert_frame_equal(
        clean_s[list(NOSHOW_FEATURES)].reset_index(drop=True),
        dirty_s[list(NOSHOW_FEATURES)].reset_index(drop=True),
    )
    # The student no-show target: the student's history and its naive baseline too.
    student_columns = [*STUDENT_NOSHOW_FEATURES, "baseline"]
    clean_st = add_student_features(frames, clean_s, cutoff)
    dirty_st = add_student_features(polluted, dirty_s, cutoff)
    assert clean_st["stu_sessions_365d"].sum() > 0
    pd.testing.assert_frame_equal(clean_st[student_columns], dirty_st[student_columns])


def test_history_before_the_cutoff_does_change_features() -> None:
    """The check above can fail: a row just before the cutoff moves a feature."""
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 45 * DAY
    tutor = int(compute_tutor_features(frames, cutoff).index[0])
    events = pd.concat(
        [
            frames.events,
            pd.DataFrame({"tutor_id": [tutor], "event_type": ["login"], "ts": [cutoff - 1]}),
        ],
        ignore_index=True,
    )
    moved = Frames(
        tutors=frames.tutors, sessions=frames.sessions, events=events, end_ts=frames.end_ts
    )
    before = compute_tutor_features(frames, cutoff).loc[tutor]
    after = compute_tutor_features(moved, cutoff).loc[tutor]
    assert after["logins_7d"] == before["logins_7d"] + 1
    assert after["days_since_login"] < 0.001


def test_student_history_before_the_cutoff_does_change_features() -> None:
    """A student no-show that ended just before the cutoff moves the student's features
    (the leakage check above can fail for them)."""
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 45 * DAY
    ss = frames.sessions
    upcoming = ss[(ss["start_ts"] >= cutoff) & (ss["start_ts"] < cutoff + 7 * DAY)].head(1)
    feats = compute_tutor_features(frames, cutoff)
    row = session_features(frames, upcoming, cutoff, feats)
    missed = upcoming.assign(
        session_id=10**9, start_ts=cutoff - 3600, minutes=60, status="student_no_show"
    )
    moved = Frames(
        tutors=frames.tutors,
        sessions=pd.concat([ss, missed], ignore_index=True),
        events=frames.events,
        end_ts=frames.end_ts,
    )
    before = add_student_features(frames, row, cutoff).iloc[0]
    after = add_student_features(moved, row, cutoff).iloc[0]
    assert after["stu_no_shows_90d"] == before["stu_no_shows_90d"] + 1
    assert after["stu_recent_no_shows"] >= 1
    assert after["stu_days_since_last_session"] < 0.05
    assert after["stu_no_show_rate_365d_shrunk"] > before["stu_no_show_rate_365d_shrunk"]
