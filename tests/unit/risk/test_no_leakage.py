"""No feature reads data at or after its cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.features import TUTOR_FEATURES, compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.noshow import NOSHOW_FEATURES, session_features
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
            "status": rng.choice(["completed", "tutor_no_show", "cancelled"], n),
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
    sessions.loc[later, "status"] = "tutor_no_show"
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
