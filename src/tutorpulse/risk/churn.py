"""Churn: the training table over monthly cutoffs, and the original's rule score.

Rows are (tutor, cutoff) for every tutor at risk at the cutoff (see ``labels``),
with the features as of the cutoff and the label "churned at cutoff + horizon".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.features import compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.risk.labels import at_risk_mask, churn_labels

TARGET = "churn"


def original_churn_score(features: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The original platform's churn "probability" (ORIGINAL §1.3) from our features.

    Signals: 7-day rating below the 90-day mean − 0.3 with ≥ 3 sessions; mean
    engagement < 5.5; reschedule rate > 0.15; first-session mean rating < 3.5 (+2);
    more than 2 no-shows; 7-day sessions < 30-day sessions / 4. The score is
    ``min(0.12·signals, 0.85)``; the original's added ``U(0, 0.10)`` noise is left out.
    """
    f = features
    signals = (
        ((f["completed_7d"] >= 3) & (f["rating_7d"] < f["rating_90d"] - 0.3)).astype(int)
        + (f["engagement_90d"] < 5.5).astype(int)
        + (f["tutor_failure_rate_90d"].fillna(0) > 0.15).astype(int)
        + 2 * (f["first_rating_90d"] < 3.5).astype(int)
        + (f["tutor_no_shows_90d"] > 2).astype(int)
        + (f["completed_7d"] < f["completed_30d"] / 4).astype(int)
    )
    return np.minimum(0.12 * signals.to_numpy(dtype=np.float64), 0.85)


def at_risk_features(frames: Frames, cutoff: int, inactivity_days: int) -> pd.DataFrame:
    """Features at ``cutoff`` for the tutors who can still churn (not yet churned)."""
    feats = compute_tutor_features(frames, cutoff)
    return feats.loc[at_risk_mask(feats, inactivity_days)]


def churn_dataset(
    frames: Frames, cutoffs: list[int], *, horizon_days: int, inactivity_days: int
) -> pd.DataFrame:
    """Stacked (tutor, cutoff) rows with features, ``label``, ``cutoff`` and ``baseline``."""
    parts = []
    for cutoff in cutoffs:
        feats = at_risk_features(frames, cutoff, inactivity_days)
        feats = feats.assign(
            cutoff=cutoff,
            label=churn_labels(
                frames,
                feats.index.to_numpy(),
                cutoff=cutoff,
                horizon_days=horizon_days,
                inactivity_days=inactivity_days,
            ),
            baseline=original_churn_score(feats),
        )
        parts.append(feats.reset_index())
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def split_cutoffs(cutoffs: list[int], horizon_days: int) -> tuple[list[int], list[int], list[int]]:
    """(train, validation, test): test = the last cutoff, validation = the last cutoff whose
    label window ends by the test cutoff, train = cutoffs whose windows end by validation.

    Raises ValueError when there are too few cutoffs for the three parts.
    """
    h = horizon_days * DAY
    if len(cutoffs) < 3:
        raise ValueError("need at least three cutoffs (train, validation, test)")
    test = cutoffs[-1]
    valid_candidates = [c for c in cutoffs if c + h <= test]
    if not valid_candidates:
        raise ValueError("no cutoff leaves room for a validation period")
    valid = valid_candidates[-1]
    train = [c for c in cutoffs if c + h <= valid]
    if not train:
        raise ValueError("no cutoff leaves room for training")
    return train, [valid], [test]
