"""Fit the candidates, keep the better on validation, calibrate, evaluate on the held-out period.

The three periods never overlap in time: training rows' label windows end by
the validation cutoff, validation's by the test cutoff (see ``churn.split_cutoffs``
and ``noshow.split_cutoffs``). The original's rule is scored on the same
held-out rows as the baseline (for the student no-show target: the student's own past
no-show rate, ``noshow.BASELINES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tutorpulse.risk.evaluation import score_metrics
from tutorpulse.risk.fairness import fairness_report
from tutorpulse.risk.model import ALGORITHMS, RiskModel, calibrate, fit_model


@dataclass
class TrainingResult:
    model: RiskModel
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    training_start: int
    training_end: int
    test: pd.DataFrame  # held-out rows with ``label`` and ``p``


def _auc(y: Any, p: Any) -> float:
    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else float("nan")


def train_and_evaluate(
    *,
    target: str,
    data: pd.DataFrame,
    features: list[str],
    train_cutoffs: list[int],
    valid_cutoffs: list[int],
    test_cutoffs: list[int],
    window_seconds: int,
    seed: int = 0,
    thresholds: tuple[float, float],
    fairness_tolerance: float,
    fairness_min_n: int,
    algorithms: tuple[str, ...] = ALGORITHMS,
    negative_share: float = 1.0,
    baseline_name: str = "original rule",
) -> TrainingResult:
    """Return the selected, calibrated model and its held-out metrics.

    Raises ValueError when a period has no rows or training has a single class.
    """
    parts = {
        "train": data[data["cutoff"].isin(train_cutoffs)],
        "validation": data[data["cutoff"].isin(valid_cutoffs)],
        "test": data[data["cutoff"].isin(test_cutoffs)],
    }
    for name, part in parts.items():
        if part.empty:
            raise ValueError(f"the {name} period has no rows")
    train, valid, test = parts["train"], parts["validation"], parts["test"]
    if train["label"].nunique() < 2 or valid["label"].nunique() < 2:
        raise ValueError("training and validation need both outcomes")

    base_rate = float(train["label"].mean())
    if negative_share < 1.0:
        # Rare targets: keep every positive and a random share of negatives for fitting;
        # Platt calibration on the (unsampled) validation period restores the base rate.
        rng = np.random.default_rng(seed)
        keep = (train["label"].to_numpy() == 1) | (rng.random(len(train)) < negative_share)
        train = train.loc[keep]

    fitted: dict[str, RiskModel] = {}
    valid_auc: dict[str, float] = {}
    for algorithm in algorithms:
        model = fit_model(target, algorithm, features, train, train["label"], seed)
        fitted[algorithm] = model
        valid_auc[algorithm] = _auc(valid["label"], model.raw_logit(model.matrix(valid)))
    chosen = max(valid_auc, key=lambda a: (np.nan_to_num(valid_auc[a], nan=-1.0), a == "logistic"))
    for model in fitted.values():
        calibrate(model, valid, valid["label"])

    y = test["label"].to_numpy()
    candidates = {
        a: score_metrics(y, m.predict(test), base_rate=base_rate) for a, m in fitted.items()
    }
    best = fitted[chosen]
    p = best.predict(test)
    held_out = score_metrics(y, p, base_rate=base_rate, detail=True)
    baseline = score_metrics(y, test["baseline"].to_numpy(), base_rate=base_rate, detail=True)
    scored = test.assign(p=p)
    metrics: dict[str, Any] = {
        "heldOut": {k: v for k, v in held_out.items() if k not in ("calibration", "roc")},
        "baseline": {k: v for k, v in baseline.items() if k not in ("calibration",)},
        "baselineName": baseline_name,
        "candidates": candidates,
        "validationAuc": {a: round(v, 4) for a, v in valid_auc.items()},
        "selectedBy": "validation AUC",
        "trainingRows": len(train),
        "negativeShare": negative_share,
        "trainingPositives": int(train["label"].sum()),
        "validationRows": len(valid),
        "trainBaseRate": round(base_rate, 5),
        "roc": held_out["roc"],
        "fairness": fairness_report(
            scored,
            thresholds=thresholds,
            tolerance=fairness_tolerance,
            min_n=fairness_min_n,
        ),
        "periods": {
            "train": [int(min(train_cutoffs)), int(max(train_cutoffs) + window_seconds)],
            "validation": [int(min(valid_cutoffs)), int(max(valid_cutoffs) + window_seconds)],
            "test": [int(min(test_cutoffs)), int(max(test_cutoffs) + window_seconds)],
        },
    }
    calibration = {
        "method": "Platt scaling on the validation period",
        "a": best.calib_a,
        "b": best.calib_b,
        "table": held_out["calibration"],
    }
    return TrainingResult(
        model=best,
        metrics=metrics,
        calibration=calibration,
        training_start=int(min(train_cutoffs)),
        training_end=int(max(train_cutoffs) + window_seconds),
        test=scored,
    )
