"""Reliability counts: the scoring path (older rows as counts + recent rows) equals the
training path (every row), and the counts follow their definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.features import LOOKBACK_DAYS, compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.reliability import COUNT_COLUMNS, TRAIT_FEATURES, session_counts


def test_older_rows_as_counts_give_the_same_features() -> None:
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 10 * DAY + 5 * 3600
    ss = frames.sessions
    recent = ss["start_ts"].to_numpy() >= cutoff - LOOKBACK_DAYS * DAY
    older = session_counts(ss.loc[~recent], cutoff)
    assert older["sessions_365d"].sum() > older["sessions_180d"].sum() > 0
    trimmed = Frames(frames.tutors, ss.loc[recent], frames.events, frames.end_ts)

    full = compute_tutor_features(frames, cutoff)
    scored = compute_tutor_features(trimmed, cutoff, older_counts=older)
    pd.testing.assert_frame_equal(full, scored)
    # Without the older counts the long-window features do change (the check can fail).
    partial = compute_tutor_features(trimmed, cutoff)
    assert not np.allclose(full["sessions_180d"], partial["sessions_180d"])


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
