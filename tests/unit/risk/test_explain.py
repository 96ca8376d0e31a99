"""Drivers: which scores carry them, and what they say."""

from __future__ import annotations

import numpy as np
from tests.unit.risk.conftest import world_frames

from tutorpulse.risk.explain import explain, rows_to_explain
from tutorpulse.risk.features import TUTOR_FEATURES, compute_tutor_features
from tutorpulse.risk.frames import DAY
from tutorpulse.risk.model import calibrate, fit_model

MEDIUM = 0.15


def _fitted(algorithm: str):  # type: ignore[no-untyped-def]
    frames, _truth = world_frames(11, 800, 240)
    feats = compute_tutor_features(frames, frames.end_ts - 30 * DAY)
    # A label the features can learn: a long gap since the last login.
    y = (feats["days_since_login"].to_numpy() > 10).astype(int)
    model = fit_model("churn", algorithm, list(TUTOR_FEATURES), feats, y, 0)
    calibrate(model, feats, y)
    return model, feats


def test_boosting_drivers_only_for_medium_and_high_scores() -> None:
    model, feats = _fitted("gbm")
    p = model.predict(feats)
    only = rows_to_explain(model, p, MEDIUM)
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
    assert rows_to_explain(model, p, MEDIUM) is None
    drivers = explain(model, feats, only=rows_to_explain(model, p, MEDIUM))
    low = p < MEDIUM
    assert low.any()
    assert any(d for d, is_low in zip(drivers, low, strict=True) if is_low)
