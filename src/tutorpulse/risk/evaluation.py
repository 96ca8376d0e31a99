"""Held-out metrics of a probability score (scikit-learn's implementations).

AUC, PR-AUC (average precision), Brier score against the base-rate Brier,
a calibration table by predicted-probability decile, lift at the top decile,
and a down-sampled ROC curve for the models page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

CALIBRATION_BINS = 10
ROC_POINTS = 60


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def calibration_table(
    y: npt.NDArray[np.int8], p: npt.NDArray[np.float64], bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Rows ranked by p and cut into ``bins`` equal-count groups: mean predicted vs observed."""
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    table = []
    for i, g in enumerate(groups):
        if g.size == 0:
            continue
        table.append(
            {
                "bin": i + 1,
                "n": int(g.size),
                "meanPredicted": _r(p[g].mean(), 5),
                "observedRate": _r(y[g].mean(), 5),
                "positives": int(y[g].sum()),
            }
        )
    return table


def lift_at_top(y: npt.NDArray[np.int8], p: npt.NDArray[np.float64], share: float = 0.1) -> float:
    """Positive rate among the top ``share`` by score, divided by the overall rate."""
    base = y.mean()
    if base == 0:
        return float("nan")
    k = max(1, round(share * y.size))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / base)


def roc_points(y: npt.NDArray[np.int8], p: npt.NDArray[np.float64]) -> list[list[float]]:
    fpr, tpr, _ = roc_curve(y, p)
    idx = np.unique(np.linspace(0, fpr.size - 1, min(ROC_POINTS, fpr.size)).astype(int))
    return [[_r(fpr[i]), _r(tpr[i])] for i in idx]


def score_metrics(
    y: npt.NDArray[np.int8],
    p: npt.NDArray[np.float64],
    *,
    base_rate: float | None = None,
    detail: bool = False,
) -> dict[str, Any]:
    """AUC, PR-AUC, Brier, base-rate Brier (``base_rate`` defaults to the observed one),
    lift at the top decile; with ``detail`` also the calibration table and ROC points."""
    y = np.asarray(y, dtype=np.int8)
    p = np.asarray(p, dtype=np.float64)
    rate = float(y.mean()) if base_rate is None else float(base_rate)
    both = 0 < y.sum() < y.size
    out: dict[str, Any] = {
        "n": int(y.size),
        "positives": int(y.sum()),
        "positiveRate": _r(y.mean(), 5),
        "auc": _r(roc_auc_score(y, p)) if both else None,
        "prAuc": _r(average_precision_score(y, p)) if both else None,
        "brier": _r(brier_score_loss(y, np.clip(p, 0, 1)), 6),
        "brierBaseRate": _r(np.mean((y - rate) ** 2), 6),
        "liftTopDecile": _r(lift_at_top(y, p), 3) if y.sum() else None,
        "meanPredicted": _r(p.mean(), 5),
    }
    if detail:
        out["calibration"] = calibration_table(y, p)
        out["roc"] = roc_points(y, p) if both else []
    return out
