"""first_sessions.cox_episodes and fit_cox: exposure windows and agreement with lifelines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tutorpulse.analytics.first_sessions import cox_episodes, fit_cox

JOIN = date(2025, 1, 1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _pop(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_episodes_split_at_the_shifted_exposure_window_and_merge_overlaps() -> None:
    pop = _pop(
        [
            {
                "tutor_id": 1,
                "joined_on": JOIN,
                "first_at": T0 + timedelta(days=10),
                "churn_time": T0 + timedelta(days=300),
                "churned": True,
                "volume_per_week": 3.0,
            }
        ]
    )
    failed = pd.DataFrame(
        {"tutor_id": [1, 1], "scheduled_start": [T0 + timedelta(days=20), T0 + timedelta(days=50)]}
    )
    ep = cox_episodes(pop, failed, lag_days=14, exposure_days=88).sort_values("start")
    # Entry at the first first session (day 10); exposure 34..(64 + 88 = 152) merged.
    assert ep[["start", "stop", "exposed"]].values.tolist() == [
        [10.0, 34.0, 0.0],
        [34.0, 152.0, 1.0],
        [152.0, 300.0, 0.0],
    ]
    assert ep["event"].tolist() == [0, 0, 1]  # the event only on the last row
    assert ep["log_volume"].unique().tolist() == [pytest.approx(np.log1p(3.0))]


def _synthetic(n: int, hr: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tutors with a constant hazard, multiplied by ``hr`` while exposed."""
    rng = np.random.default_rng(seed)
    base = 0.004
    rows, fails = [], []
    for i in range(n):
        entry = float(rng.uniform(0, 60))
        fail = entry + float(rng.uniform(0, 200)) if rng.random() < 0.3 else None
        lo, hi = (fail + 14, fail + 102) if fail is not None else (np.inf, np.inf)
        t, end, churned = entry, entry + 400.0, False
        while t < end:  # piecewise-exponential draw
            nxt = min(end, lo) if t < lo else (min(end, hi) if t < hi else end)
            h = base * (hr if lo <= t < hi else 1.0)
            draw = float(rng.exponential(1 / h))
            if t + draw < nxt:
                t, churned = t + draw, True
                break
            t = nxt
        vol = float(rng.gamma(2.0, 1.5))
        rows.append(
            {
                "tutor_id": i,
                "joined_on": JOIN,
                "first_at": T0 + timedelta(days=entry),
                "churn_time": T0 + timedelta(days=t),
                "churned": churned,
                "volume_per_week": vol,
            }
        )
        if fail is not None:
            fails.append({"tutor_id": i, "scheduled_start": T0 + timedelta(days=fail)})
    return pd.DataFrame(rows), pd.DataFrame(fails)


def test_fit_cox_matches_lifelines_and_recovers_a_planted_ratio() -> None:
    pop, failed = _synthetic(1500, hr=3.0, seed=4)
    ep = cox_episodes(pop, failed, lag_days=14, exposure_days=88)
    res = fit_cox(ep)
    ref = CoxPHFitter().fit(
        ep[["start", "stop", "event", "exposed", "log_volume"]],
        duration_col="stop",
        event_col="event",
        entry_col="start",
    )
    s = ref.summary.loc["exposed"]
    assert res.hazard_ratio == pytest.approx(s["exp(coef)"], rel=1e-5)
    assert res.ci_low == pytest.approx(s["exp(coef) lower 95%"], rel=1e-4)
    assert res.ci_high == pytest.approx(s["exp(coef) upper 95%"], rel=1e-4)
    assert res.p_value == pytest.approx(s["p"], rel=1e-3, abs=1e-12)
    assert res.ci_low < 3.0 < res.ci_high
    assert res.n_events == int(ep["event"].sum())


def test_fit_cox_reports_too_few_events() -> None:
    pop, failed = _synthetic(30, hr=1.0, seed=1)
    pop["churned"] = False
    res = fit_cox(cox_episodes(pop, failed, lag_days=14, exposure_days=88))
    assert res.error == "too few events"
    assert np.isnan(res.hazard_ratio)
