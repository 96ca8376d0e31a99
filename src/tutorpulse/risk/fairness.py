"""Fairness check on the held-out period: calibration and flag rates by group.

Groups: the tutor's primary subject, certification level and tenure band.
For each group: rows, observed rate, mean predicted probability, the
calibration gap (mean predicted − observed), and the share flagged High or
Medium. A group is *flagged* when it has at least ``min_n`` rows and its
absolute calibration gap exceeds ``tolerance`` (a probability difference), i.e.
the model systematically over- or under-states that group's risk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tutorpulse.risk.features import CERTIFICATIONS, SUBJECTS

TENURE_BANDS = ((0, 90, "under 90 days"), (90, 365, "90–365 days"), (365, 10**9, "over a year"))


def group_labels(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Per dimension, each row's group name (from the one-hot and tenure features)."""
    subject = pd.Series("other", index=frame.index, dtype=object)
    for s in SUBJECTS:
        col = f"subject_{s.lower().replace(' ', '_')}"
        subject[frame[col] > 0.5] = s
    cert = pd.Series("unknown", index=frame.index, dtype=object)
    for c in CERTIFICATIONS:
        cert[frame[f"cert_{c}"] > 0.5] = c
    tenure = pd.Series("", index=frame.index, dtype=object)
    days = frame["tenure_days"].to_numpy()
    for lo, hi, name in TENURE_BANDS:
        tenure[(days >= lo) & (days < hi)] = name
    return {"subject": subject, "certification": cert, "tenure": tenure}


def fairness_report(
    scored: pd.DataFrame,
    *,
    thresholds: tuple[float, float],
    tolerance: float,
    min_n: int,
) -> dict[str, Any]:
    """Rows of ``scored`` need ``label``, ``p`` and the tutor features; returns the table."""
    medium, _high = thresholds
    flagged_row = scored["p"].to_numpy() >= medium
    rows: list[dict[str, Any]] = []
    for dimension, labels in group_labels(scored).items():
        for name in sorted(labels.unique()):
            sel = (labels == name).to_numpy()
            n = int(sel.sum())
            observed = float(scored["label"].to_numpy()[sel].mean())
            predicted = float(scored["p"].to_numpy()[sel].mean())
            gap = predicted - observed
            rows.append(
                {
                    "dimension": dimension,
                    "group": name,
                    "n": n,
                    "positives": int(scored["label"].to_numpy()[sel].sum()),
                    "observedRate": round(observed, 5),
                    "meanPredicted": round(predicted, 5),
                    "calibrationGap": round(gap, 5),
                    "flagRate": round(float(flagged_row[sel].mean()), 5),
                    "flagged": bool(n >= min_n and abs(gap) > tolerance),
                }
            )
    return {
        "tolerance": tolerance,
        "minN": min_n,
        "flagDefinition": f"probability >= {medium} (Medium or High)",
        "overallFlagRate": round(float(np.mean(flagged_row)), 5),
        "groups": rows,
        "anyFlagged": any(r["flagged"] for r in rows),
    }
