"""A calibrated risk model: estimator + Platt calibration + explanation reference.

Candidates are scikit-learn's ``LogisticRegression`` (median imputation and
standardisation in a pipeline) and ``HistGradientBoostingClassifier`` (native
missing values). Calibration is Platt scaling — a one-feature logistic
regression on the raw score's logit — fitted on the validation cutoffs, which
the estimator never saw. The whole object is pickled into ``ModelVersion.artifact``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

EPS = 1e-6
# scikit-learn's gradient boosting uses OpenMP threads; on a small shared machine the
# threads spin against each other (measured: 252 s with the default vs 7 s with one
# thread for 40k rows on 2 busy cores), so fitting and predicting run single-threaded.
MODEL_THREADS = 1
ALGORITHMS = ("logistic", "gbm")


def logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, EPS, 1 - EPS)
    return np.asarray(np.log(q / (1 - q)))


def sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def make_estimator(algorithm: str, seed: int) -> Any:
    if algorithm == "logistic":
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=0.5, max_iter=2000)),
            ]
        )
    if algorithm == "gbm":
        return HistGradientBoostingClassifier(
            learning_rate=0.06,
            max_iter=250,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
    raise ValueError(f"unknown algorithm {algorithm!r}")


@dataclass
class RiskModel:
    """A fitted estimator over ``features`` plus Platt calibration (``a·logit + b``)."""

    target: str
    algorithm: str
    features: list[str]
    estimator: Any
    calib_a: float = 1.0
    calib_b: float = 0.0
    # Per-feature reference values (training medians) used by the explanations.
    reference: dict[str, float] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        return np.asarray(frame[self.features].to_numpy(dtype=np.float64))

    def raw_logit(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        with threadpool_limits(MODEL_THREADS):
            return logit(self.estimator.predict_proba(x)[:, 1])

    def logit_from_matrix(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.calib_a * self.raw_logit(x) + self.calib_b

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probabilities for the rows of ``frame``."""
        if len(frame) == 0:
            return np.zeros(0)
        return sigmoid(self.logit_from_matrix(self.matrix(frame)))


def fit_model(
    target: str, algorithm: str, features: list[str], train: pd.DataFrame, y: Any, seed: int
) -> RiskModel:
    estimator = make_estimator(algorithm, seed)
    x = train[features].to_numpy(dtype=np.float64)
    with threadpool_limits(MODEL_THREADS):
        estimator.fit(x, np.asarray(y))
    medians = train[features].median(numeric_only=True)
    reference = {
        f: float(medians.get(f, 0.0)) if pd.notna(medians.get(f)) else 0.0 for f in features
    }
    return RiskModel(target, algorithm, list(features), estimator, reference=reference)


def calibrate(model: RiskModel, frame: pd.DataFrame, y: Any) -> RiskModel:
    """Fit Platt scaling on held-aside rows (mutates and returns ``model``)."""
    z = model.raw_logit(model.matrix(frame)).reshape(-1, 1)
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(z, np.asarray(y))
    model.calib_a = float(platt.coef_[0, 0])
    model.calib_b = float(platt.intercept_[0])
    return model
