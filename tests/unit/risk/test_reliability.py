"""Reliability counts: the scoring path (older rows as counts + recent rows) equals the
training path (every row), and the counts follow their definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.features import (
    EVENT_ROW_DAYS,
    LOOKBACK_DAYS,
    compute_tutor_features,
    older_history,
)
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.reliability import COUNT_COLUMNS, TRAIT_FEATURES, session_counts


def test_older_history_as_aggregates_gives_the_same_features() -> None:
    """Scoring reads only recent rows plus ``OlderHistory``; training reads every row."""
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 10 * DAY + 5 * 3600
    older = older_history(frames, cutoff)
    counts = older.session_counts
    assert counts["sessions_365d"].sum() > counts["sessions_180d"].sum() > 0
    assert len(older.last_login) > 0
    ss, ev = frames.sessions, frames.events
    trimmed = Frames(
        frames.tutors,
        ss.loc[ss["start_ts"].to_numpy() >= cutoff - LOOKBACK_DAYS * DAY],
        ev.loc[ev["ts"].to_numpy() >= cutoff - EVENT_ROW_DAYS * DAY],
        frames.end_ts,
    )

    full = compute_tutor_features(frames, cutoff)
    scored = compute_tutor_features(trimmed, cutoff, older=older)
    pd.testing.assert_frame_equal(full, scored)
    # Without the older history the long-window features do change (the check can fail).
    partial = compute_tutor_features(trimmed, cutoff)
    assert not np.allclose(full["sessions_180d"], partial["sessions_180d"])
    # A tutor whose last login is older than the event rows: only ``older`` knows it.
    tutor = int(older.last_login.index[0])
    quiet = Frames(
        trimmed.tutors,
        trimmed.sessions,
        trimmed.events.loc[trimmed.events["tutor_id"] != tutor],
        frames.end_ts,
    )
    with_older = compute_tutor_features(quiet, cutoff, older=older).loc[tutor]
    expected = (cutoff - older.last_login.loc[tutor]) / DAY
    assert with_older["days_since_login"] == min(expected, with_older["tenure_days"])
    assert compute_tutor_features(quiet, cutoff).loc[tutor, "days_since_login"] > expected


def test_counts_follow_their_definitions() -> None:
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 20 * DAY
    ss = frames.sessions
    start = ss["start_ts"].to_numpy()
    counts = session_counts(ss, cutoff)
    assert list(counts.columns) == list(COUNT_COLUMNS)
    tutor = int(counts["tutor_no_shows_365d"].idxmax())
    mine = ss[(ss["tutor_id"] == tutor) & (start + ss["minutes"] * 60 <= cutoff)]
    in_180 = mine[mine["start_ts"] >= cutoff - 180 * DAY]
    row = counts.loc[tutor]
    assert row["sessions_365d"] == len(mine[mine["start_ts"] >= cutoff - 365 * DAY])
    assert row["sessions_180d"] == len(in_180)
    assert row["tutor_no_shows_180d"] == (in_180["status"] == "tutor_no_show").sum()
    completed = in_180[in_180["status"] == "completed"]
    assert row["late_start_180d"] == (completed["late_s"] > 60).sum()
    assert row["late_180d"] == (completed["late_s"] > 300).sum()
    feats = compute_tutor_features(frames, cutoff)
    assert feats[list(TRAIT_FEATURES)].notna().all().all()
    # More no-shows on the same number of due sessions: a higher shrunk log rate.
    assert feats.loc[tutor, "log_no_show_rate_365d"] > feats["log_no_show_rate_365d"].median()
