"""The time-series statistics against the reference libraries on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tsa.seasonal import STL

from tutorpulse.analytics import timeseries as ts

TOL = 1e-9


def _series(n: int = 90, seed: int = 3, slope: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weekly = np.tile([0.0, 0.4, 0.5, 0.3, 0.2, -0.6, -0.8], n // 7 + 1)[:n]
    noise = np.zeros(n)
    for i in range(1, n):  # AR(1) noise: the reason for HAC errors
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0, 0.3)
    return 7 + slope * np.arange(n) + weekly + noise


def test_moving_average_matches_pandas_rolling_and_skips_gaps() -> None:
    y = _series(30)
    got = ts.moving_average(list(y), 7)
    want = pd.Series(y).rolling(7, min_periods=1).mean()
    assert np.allclose(np.array(got, dtype=float), want.to_numpy(), atol=TOL, rtol=0)
    with_gap = ts.moving_average([1.0, None, 3.0, 5.0], 2)
    assert with_gap == [1.0, 1.0, 3.0, 4.0]
    assert ts.moving_average([None, None], 3) == [None, None]


def test_ols_trend_equals_statsmodels_hac() -> None:
    y = _series()
    fit = ts.ols_trend(list(y))
    lags = ts.newey_west_lags(len(y))
    assert lags == math.floor(4 * (len(y) / 100) ** (2 / 9))
    x = sm.add_constant(np.arange(len(y), dtype=float))
    ref = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    ci = ref.conf_int(0.05)
    assert fit.slope == pytest.approx(ref.params[1], abs=TOL)
    assert fit.intercept == pytest.approx(ref.params[0], abs=TOL)
    assert fit.ci_low == pytest.approx(ci[1][0], abs=TOL)
    assert fit.ci_high == pytest.approx(ci[1][1], abs=TOL)
    assert fit.p_value == pytest.approx(ref.pvalues[1], abs=TOL)
    assert fit.r_squared == pytest.approx(ref.rsquared, abs=TOL)
    assert fit.direction == "increasing"


def test_hac_standard_error_matches_a_hand_computed_newey_west() -> None:
    """Bartlett-kernel sandwich (no small-sample factor, statsmodels' default for HAC)."""
    y = _series(60, seed=9)
    fit = ts.ols_trend(list(y))
    n, lags = len(y), fit.hac_lags
    x = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    u = y - x @ beta
    xu = x * u[:, None]
    s = xu.T @ xu
    for lag in range(1, lags + 1):
        w = 1 - lag / (lags + 1)
        g = xu[lag:].T @ xu[:-lag]
        s += w * (g + g.T)
    bread = np.linalg.inv(x.T @ x)
    cov = bread @ s @ bread
    se = math.sqrt(cov[1, 1])
    z = stats.norm.ppf(0.975)
    assert fit.ci_high - fit.slope == pytest.approx(z * se, abs=1e-9)
    assert fit.p_value == pytest.approx(2 * stats.norm.sf(abs(beta[1]) / se), abs=1e-9)


def test_ols_trend_drops_missing_days_but_keeps_their_index() -> None:
    y = list(_series(40))
    y[5] = None
    y[17] = None
    fit = ts.ols_trend(y)
    keep = [i for i, v in enumerate(y) if v is not None]
    x = sm.add_constant(np.array(keep, dtype=float))
    ref = sm.OLS(np.array([y[i] for i in keep]), x).fit(
        cov_type="HAC", cov_kwds={"maxlags": ts.newey_west_lags(len(keep))}
    )
    assert fit.n == 38
    assert fit.slope == pytest.approx(ref.params[1], abs=TOL)
    assert fit.p_value == pytest.approx(ref.pvalues[1], abs=TOL)


def test_flat_noise_is_stable_and_short_series_have_no_trend() -> None:
    rng = np.random.default_rng(1)
    assert ts.ols_trend(list(rng.normal(5, 1, 60))).direction == "stable"
    short = ts.ols_trend([1.0, 2.0])
    assert short.slope is None
    assert short.direction == "insufficient data"


def test_anomaly_scores_are_stl_residuals_over_the_mad() -> None:
    rng = np.random.default_rng(8)
    y = 10 + np.tile([0.0, 1, 1, 1, 1, -1, -2], 12) + rng.normal(0, 0.3, 84)
    y[40] += 4.0  # a spike
    y[60:63] -= 3.0  # a dip of three days
    found = ts.detect_anomalies(list(y), threshold=3.5)
    flagged = {a.index for a in found.anomalies}
    assert 40 in flagged
    assert {60, 61, 62} <= flagged
    assert len(flagged - {40, 60, 61, 62}) <= 2
    # Recompute the score of the spike from statsmodels' STL and scipy's MAD.
    res = STL(y, period=7, seasonal=ts.STL_SEASONAL, trend=ts.STL_MIN_TREND_DAYS, robust=True).fit()
    resid = res.resid
    scale = stats.median_abs_deviation(resid, scale="normal")
    centre = np.median(resid)
    spike = next(a for a in found.anomalies if a.index == 40)
    assert spike.score == pytest.approx((resid[40] - centre) / scale, abs=TOL)
    assert spike.expected == pytest.approx(y[40] - resid[40] + centre, abs=TOL)
    assert spike.expected_high - spike.expected == pytest.approx(3.5 * scale, abs=TOL)
    assert spike.direction == "above"
    assert spike.severity in {"high", "medium"}
    assert next(a for a in found.anomalies if a.index == 61).direction == "below"


def test_clean_weekly_series_has_few_anomalies_and_short_series_use_the_median() -> None:
    rng = np.random.default_rng(5)
    weekly = np.tile([0.0, 1, 1, 1, 1, -1, -2], 12)
    clean = 10 + weekly + rng.normal(0, 0.2, weekly.size)
    assert len(ts.detect_anomalies(list(clean)).anomalies) <= 2
    short = ts.detect_anomalies([5.0, 5.1, 4.9, 5.0, 9.0, 5.05])
    assert short.method.startswith("median")
    assert [a.index for a in short.anomalies] == [4]


def test_profile_test_matches_scipy_and_effect_sizes() -> None:
    rng = np.random.default_rng(2)
    groups = [list(rng.normal(mu, 1, 12)) for mu in (0, 0.2, 1.5, 0.1)]
    res = ts.profile_test(groups)
    h, hp = stats.kruskal(*groups)
    f, fp = stats.f_oneway(*groups)
    assert res.kruskal_h == pytest.approx(h, abs=TOL)
    assert res.kruskal_p == pytest.approx(hp, abs=TOL)
    assert res.anova_f == pytest.approx(f, abs=TOL)
    assert res.anova_p == pytest.approx(fp, abs=TOL)
    n = 48
    assert res.epsilon_squared == pytest.approx(h / (n - 1), abs=TOL)
    # eta² from statsmodels' ANOVA table
    frame = pd.DataFrame({"y": np.concatenate(groups), "g": np.repeat(["a", "b", "c", "d"], 12)})
    table = sm.stats.anova_lm(sm.formula.ols("y ~ C(g)", frame).fit())
    eta = table["sum_sq"].iloc[0] / table["sum_sq"].sum()
    assert res.eta_squared == pytest.approx(eta, abs=TOL)
    assert ts.profile_test([[1.0, 2.0], []]).kruskal_h is None


def test_mean_and_wilson_intervals_match_the_libraries() -> None:
    x = np.random.default_rng(4).normal(7, 1.3, 25)
    got = ts.mean_interval(x.size, float(x.sum()), float((x**2).sum()))
    lo, hi = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert got.mean == pytest.approx(x.mean(), abs=TOL)
    assert got.low == pytest.approx(lo, abs=TOL)
    assert got.high == pytest.approx(hi, abs=TOL)
    w = ts.wilson_interval(7, 400)
    ref = proportion_confint(7, 400, alpha=0.05, method="wilson")
    assert w.low == pytest.approx(ref[0], abs=TOL)
    assert w.high == pytest.approx(ref[1], abs=TOL)
    assert ts.mean_interval(0, 0, 0).mean is None
