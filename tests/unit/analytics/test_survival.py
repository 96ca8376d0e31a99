"""Kaplan–Meier, log-rank and the cohort matrix against lifelines on the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times

from tutorpulse.analytics import survival

TOL = 1e-9


def _data(seed: int = 1, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["2026-01", "2026-02", "2026-03"], n)
    scale = np.where(group == "2026-03", 60.0, 120.0)
    lost_at = np.floor(rng.exponential(scale))
    censor_at = np.floor(rng.uniform(20, 200, n))
    durations = np.minimum(lost_at, censor_at)
    observed = lost_at <= censor_at
    return durations, observed, group


def test_hand_computed_product_limit_with_censoring() -> None:
    # 5 tutors: lost at 2, censored at 3, lost at 5, lost at 5, censored at 8.
    km = survival.kaplan_meier([2, 3, 5, 5, 8], [True, False, True, True, False], times=(4, 6))
    # S(2) = 4/5; S(5) = 4/5 * (1 - 2/3) = 4/15; the censored tutor at 3 leaves the risk set.
    assert km.at_days[0].survival == pytest.approx(4 / 5, abs=TOL)
    assert km.at_days[1].survival == pytest.approx(4 / 15, abs=TOL)
    assert (km.n, km.events, km.censored) == (5, 3, 2)
    assert km.median == 5.0


def test_kaplan_meier_equals_lifelines() -> None:
    d, e, _g = _data()
    km = survival.kaplan_meier(d, e, times=(30, 60, 90, 180))
    ref = KaplanMeierFitter(alpha=0.05).fit(d, event_observed=e)
    for s in km.at_days:
        if s.day > d.max():
            assert s.survival is None
            continue
        assert s.survival == pytest.approx(
            float(ref.survival_function_at_times(s.day).iloc[0]), abs=TOL
        )
        band = ref.confidence_interval_survival_function_.loc[: s.day].iloc[-1]
        assert s.ci_low == pytest.approx(float(band.iloc[0]), abs=TOL)
        assert s.ci_high == pytest.approx(float(band.iloc[1]), abs=TOL)
    curve_s = np.array([p.survival for p in km.curve])
    assert np.allclose(curve_s, ref.survival_function_.iloc[:, 0].to_numpy(), atol=TOL)
    assert km.median == pytest.approx(ref.median_survival_time_, abs=TOL)
    mci = median_survival_times(ref.confidence_interval_survival_function_)
    assert km.median_ci_low == pytest.approx(float(mci.iloc[0, 0]), abs=TOL)


def test_median_is_none_when_survival_never_falls_to_half() -> None:
    km = survival.kaplan_meier([10, 20, 30, 40], [True, False, False, False])
    assert km.median is None
    assert km.at_days[-1].survival is None  # 180 days is beyond the follow-up


def test_logrank_equals_lifelines() -> None:
    d, e, g = _data(seed=4)
    got = survival.logrank(d, g, e)
    ref = multivariate_logrank_test(d, g, e)
    assert got.statistic == pytest.approx(ref.test_statistic, abs=TOL)
    assert got.p_value == pytest.approx(ref.p_value, abs=TOL)
    assert got.degrees_of_freedom == 2
    assert got.p_value < 0.05  # the March cohort is lost twice as fast
    two = g != "2026-03"
    pair = survival.logrank(d[two], g[two], e[two])
    a, b = g[two] == "2026-01", g[two] == "2026-02"
    ref2 = logrank_test(d[two][a], d[two][b], e[two][a], e[two][b])
    assert pair.statistic == pytest.approx(ref2.test_statistic, abs=TOL)
    assert survival.logrank(d, np.repeat("x", d.size), e).p_value is None


def test_activity_matrix_leaves_unobserved_cells_empty_not_zero() -> None:
    rows = survival.activity_matrix(
        ["2026-01", "2026-02"],
        {"2026-01": 10, "2026-02": 4},
        3,
        active={("2026-01", 0): 9, ("2026-01", 1): 0, ("2026-02", 0): 3},
        eligible={("2026-01", 0): 10, ("2026-01", 1): 10, ("2026-02", 0): 4},
    )
    assert rows[0].cells == [0.9, 0.0, None]
    assert rows[1].cells == [0.75, None, None]
    assert rows[1].eligible == [4, 0, 0]


@pytest.mark.parametrize("seed", [2, 3])
def test_whole_curve_band_at_risk_and_median_interval_equal_lifelines(seed: int) -> None:
    d, e, _g = _data(seed=seed, n=150)
    d = np.concatenate([d, [0.0, 0.0, 5.0]])  # ties at 0 (lost on the join day) and at 5
    e = np.concatenate([e, [True, False, True]])
    km = survival.kaplan_meier(d, e, times=(30,))
    ref = KaplanMeierFitter(alpha=0.05).fit(d, event_observed=e)
    band = ref.confidence_interval_survival_function_.to_numpy()
    assert [p.day for p in km.curve] == ref.survival_function_.index.tolist()
    low = np.array([np.nan if p.ci_low is None else p.ci_low for p in km.curve])
    high = np.array([np.nan if p.ci_high is None else p.ci_high for p in km.curve])
    assert np.allclose(low, band[:, 0], atol=TOL, equal_nan=True)
    assert np.allclose(high, band[:, 1], atol=TOL, equal_nan=True)
    at_risk = ref.event_table["at_risk"].reindex(ref.survival_function_.index, fill_value=0)
    assert [p.at_risk for p in km.curve] == at_risk.tolist()
    mci = median_survival_times(ref.confidence_interval_survival_function_)
    for got, want in ((km.median_ci_low, mci.iloc[0, 0]), (km.median_ci_high, mci.iloc[0, 1])):
        assert (got is None and not np.isfinite(want)) or got == pytest.approx(want, abs=TOL)


def test_everyone_lost_and_four_group_logrank_equal_lifelines() -> None:
    km = survival.kaplan_meier([1, 2, 2, 4], [True, True, True, True], times=(3,))
    ref = KaplanMeierFitter().fit([1, 2, 2, 4], event_observed=[True, True, True, True])
    curve = ref.survival_function_.iloc[:, 0].to_numpy()
    assert np.allclose([p.survival for p in km.curve], curve, atol=TOL)
    assert km.curve[-1].survival == 0.0
    rng = np.random.default_rng(9)
    g = rng.choice(["a", "b", "c", "d"], 300)
    d = np.floor(rng.exponential(np.where(g == "d", 40.0, 90.0)))
    e = rng.uniform(size=300) < 0.7
    got = survival.logrank(d, g, e)
    want = multivariate_logrank_test(d, g, e)
    assert got.statistic == pytest.approx(want.test_statistic, abs=TOL)
    assert got.p_value == pytest.approx(want.p_value, abs=TOL)
    assert got.degrees_of_freedom == 3
