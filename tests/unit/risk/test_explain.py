"""Drivers: which scores carry them, and what they say."""

from __future__ import annotations

import numpy as np
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.explain import explain, rows_to_explain
from tutorpulse.risk.features import TUTOR_FEATURES, compute_tutor_features
from tutorpulse.risk.frames import DAY
from tutorpulse.risk.model import calibrate, fit_model

MEDIUM = 0.15


def _fitted(algorithm: str, *, two_signals: bool = False):  # type: ignore[no-untyped-def]
    frames, _truth = world_frames(11, 800, 240)
    feats = compute_tutor_features(frames, frames.end_ts - 30 * DAY)
    # A label the features can learn: a long gap since the last login.
    y = (feats["days_since_login"].to_numpy() > 10).astype(int)
    if two_signals:  # noisy, from login recency and recent volume: low scores can be
        # worse than the median on one of them, so they have a driver to show
        days = feats["days_since_login"].fillna(60).to_numpy()
        done = feats["completed_30d"].fillna(0).to_numpy()
        z = 0.3 * (days - np.median(days)) - 0.3 * (done - np.median(done)) - 1.0
        y = (np.random.default_rng(3).random(len(z)) < 1 / (1 + np.exp(-z))).astype(int)
    model = fit_model("churn", algorithm, list(TUTOR_FEATURES), feats, y, 0)
    calibrate(model, feats, y)
    return model, feats


def test_boosting_drivers_for_every_score_by_default() -> None:
    model, feats = _fitted("gbm", two_signals=True)
    p = model.predict(feats)
    low = p < MEDIUM
    assert low.sum() > 100
    assert rows_to_explain(model, p, MEDIUM) is None
    drivers = explain(model, feats, only=rows_to_explain(model, p, MEDIUM))
    # Low scores carry drivers too (a driver is a topic that raises the risk, so a
    # tutor whose every topic lowers it has none).
    low_explained = sum(bool(d) for d, is_low in zip(drivers, low, strict=True) if is_low)
    assert low_explained > 0.8 * low.sum()
    limited = explain(model, feats, only=rows_to_explain(model, p, MEDIUM, boosting="medium"))
    assert not any(d for d, is_low in zip(limited, low, strict=True) if is_low)
    kept = [d for d, is_low in zip(drivers, low, strict=True) if not is_low]
    assert kept == [d for d, is_low in zip(limited, low, strict=True) if not is_low]


def test_boosting_drivers_limited_to_medium_and_high_when_configured() -> None:
    model, feats = _fitted("gbm")
    p = model.predict(feats)
    only = rows_to_explain(model, p, MEDIUM, boosting="medium")
    assert only is not None
    assert 0 < only.sum() < len(only)
    drivers = explain(model, feats, only=only)
    assert len(drivers) == len(feats)
    assert all(not d for d, keep in zip(drivers, only, strict=True) if not keep)
    explained = [d for d, keep in zip(drivers, only, strict=True) if keep]
    assert sum(bool(d) for d in explained) > 0.9 * len(explained)
    # The learnt signal is login recency: it leads the drivers of the riskiest tutor.
    top = drivers[int(np.argmax(p))]
    assert top[0]["key"] == "logins"
    assert "no login" in top[0]["text"]


def test_logistic_drivers_for_every_score() -> None:
    model, feats = _fitted("logistic")
    p = model.predict(feats)
    assert rows_to_explain(model, p, MEDIUM, boosting="medium") is None
    drivers = explain(model, feats, only=rows_to_explain(model, p, MEDIUM))
    low = p < MEDIUM
    assert low.any()
    assert any(d for d, is_low in zip(drivers, low, strict=True) if is_low)
