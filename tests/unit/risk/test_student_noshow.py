"""The student no-show target: the scoring path of the student history equals the
training path, and a model trained on a generated world beats the naive baseline (the
student's own past no-show rate) on the held-out weeks. Run with ``-s`` for the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tests.unit.risk.conftest import DAYS, world_frames

from tutorpulse.core.settings import Settings
from tutorpulse.risk import service
from tutorpulse.risk.explain import explain
from tutorpulse.risk.features import LOOKBACK_DAYS, compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.noshow import STUDENT_TARGET, add_student_features, session_features
from tutorpulse.risk.student import STUDENT_FEATURES, older_student_counts, student_counts

SEEDS = [2, 3]


def test_older_student_counts_give_the_same_features() -> None:
    """Scoring reads recent rows plus per-student counts of the older ones; training reads
    every row: the features agree, and without the older counts they do not."""
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 10 * DAY + 5 * 3600
    ss = frames.sessions
    start = ss["start_ts"].to_numpy()
    targets = ss[(start >= cutoff) & (start < cutoff + 7 * DAY)]
    rows = session_features(frames, targets, cutoff, compute_tutor_features(frames, cutoff))
    older = older_student_counts(frames, cutoff)
    assert older["sessions"].sum() > 0
    trimmed = Frames(
        frames.tutors, ss.loc[start >= cutoff - LOOKBACK_DAYS * DAY], frames.events, frames.end_ts
    )
    full = add_student_features(frames, rows, cutoff)
    scored = add_student_features(trimmed, rows, cutoff, older=older)
    columns = [*STUDENT_FEATURES, "baseline"]
    pd.testing.assert_frame_equal(full[columns], scored[columns])
    partial = add_student_features(trimmed, rows, cutoff)
    assert not np.allclose(full["stu_sessions_365d"], partial["stu_sessions_365d"])


def test_student_counts_follow_their_definitions() -> None:
    frames, _truth = world_frames(11, 800, 240)
    cutoff = frames.end_ts - 20 * DAY
    ss = frames.sessions
    counts = student_counts(ss, cutoff)
    student = int(counts["no_shows"].idxmax())
    start = ss["start_ts"].to_numpy()
    mine = ss[
        (ss["student_id"] == student)
        & (start + ss["minutes"].to_numpy() * 60 <= cutoff)
        & (start >= cutoff - 365 * DAY)
    ]
    row = counts.loc[student]
    assert row["sessions"] == len(mine)
    assert row["no_shows"] == (mine["status"] == "student_no_show").sum() > 0
    assert row["completed"] == (mine["status"] == "completed").sum()
    assert row["last_start_ts"] == mine["start_ts"].max()


@pytest.mark.parametrize("seed", SEEDS)
def test_student_noshow_model_on_held_out_sessions(seed: int) -> None:
    frames, _truth = world_frames(seed)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    result = service.fit_target(
        frames, target=STUDENT_TARGET, start_ts=frames.end_ts - DAYS * DAY, settings=settings
    )
    held = result.metrics["heldOut"]
    base = result.metrics["baseline"]
    test = result.test
    y, p, naive = test["label"].to_numpy(), test["p"].to_numpy(), test["baseline"].to_numpy()
    # Paired bootstrap of AUC(model) - AUC(baseline) over the held-out sessions.
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(200):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[i], p[i]) - roc_auc_score(y[i], naive[i]))
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    medium = settings.risk_student_noshow_medium_threshold
    high = settings.risk_student_noshow_high_threshold
    levels = {"High": p >= high, "Medium": (p >= medium) & (p < high), "Low": p < medium}
    by_level = ", ".join(
        f"{name} {m.mean():.1%} of sessions (observed {y[m].mean() if m.any() else 0:.1%})"
        for name, m in levels.items()
    )
    print(
        f"\nstudent no-show seed {seed}: sessions={held['n']} no-shows={held['positives']} "
        f"model={result.model.algorithm} AUC={held['auc']:.3f} PR-AUC={held['prAuc']:.4f} "
        f"Brier={held['brier']:.5f} (base rate {held['brierBaseRate']:.5f}) "
        f"lift@10%={held['liftTopDecile']:.2f} | baseline ({result.metrics['baselineName']}) "
        f"AUC={base['auc']:.3f} PR-AUC={base['prAuc']:.4f} | train base rate "
        f"{result.metrics['trainBaseRate']:.4f}; predicted p50/p90/p99 "
        f"{np.quantile(p, 0.5):.4f}/{np.quantile(p, 0.9):.4f}/{np.quantile(p, 0.99):.4f}"
        f"\n  AUC - baseline AUC: {held['auc'] - base['auc']:+.3f} (95% paired bootstrap "
        f"{lo:+.3f} to {hi:+.3f}); baseline Brier {base['brier']:.5f}; levels: {by_level}"
    )
    assert result.metrics["baselineName"] == "student's own past no-show rate"
    # About 0.59 on both seeds with ~670 held-out no-shows (AUC standard error ~0.01): well
    # clear of chance, and above the baseline on the same sessions (by +0.007 and +0.020:
    # no margin is asserted, the paired difference is of the order of its noise).
    assert held["auc"] >= 0.56
    assert held["auc"] > base["auc"]
    # Calibrated: better than the base rate, and far better than the raw past rate taken
    # as a probability (one missed session out of two is not a 50% risk).
    assert held["brier"] < held["brierBaseRate"]
    assert held["brier"] < base["brier"] - 0.003

    # Drivers in words: students who missed at least 2 of their last sessions are told so
    # (measured: 229 of 234 on seed 2; the rest had the topic outside their top 3).
    missed = test[test["stu_recent_no_shows"] >= 2]
    drivers = explain(result.model, missed)
    student_drivers = [d for ds in drivers for d in ds if d["key"] == "student"]
    assert len(missed) > 0
    assert len(student_drivers) >= 0.9 * len(missed)
    assert all(d["text"].startswith("the student missed ") for d in student_drivers)
