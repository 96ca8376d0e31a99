"""stats.py against the reference libraries on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

from tutorpulse.analytics import stats

RNG = np.random.default_rng(7)
A = RNG.normal(5.0, 1.0, 40)
B = RNG.normal(4.4, 2.0, 65)


def test_welch_matches_scipy_and_satterthwaite_df() -> None:
    res = stats.welch_t(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert res.t == pytest.approx(ref.statistic, abs=1e-9)
    assert res.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert res.df == pytest.approx(ref.df, abs=1e-9)
    assert (res.n_a, res.n_b) == (40, 65)


def test_welch_drops_nan_and_degenerate_groups_give_nan() -> None:
    res = stats.welch_t(np.append(A, np.nan), B)
    assert res.p_value == pytest.approx(sps.ttest_ind(A, B, equal_var=False).pvalue, abs=1e-12)
    assert math.isnan(stats.welch_t([1.0], B).p_value)
    assert math.isnan(stats.welch_t([2.0, 2.0], [2.0, 2.0]).p_value)


def test_cohens_d_uses_pooled_sd_and_hedges_olkin_ci() -> None:
    n1, n2 = A.size, B.size
    pooled = math.sqrt(((n1 - 1) * A.var(ddof=1) + (n2 - 1) * B.var(ddof=1)) / (n1 + n2 - 2))
    d = (A.mean() - B.mean()) / pooled
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    es = stats.cohens_d(A, B)
    assert es.d == pytest.approx(d, abs=1e-12)
    assert es.ci_low == pytest.approx(d - sps.norm.ppf(0.975) * se, abs=1e-12)
    assert es.ci_high == pytest.approx(d + sps.norm.ppf(0.975) * se, abs=1e-12)
    # The unweighted "pooled" SD of the original gives a different number here.
    unweighted = (A.mean() - B.mean()) / math.sqrt((A.var(ddof=1) + B.var(ddof=1)) / 2)
    assert abs(es.d - unweighted) > 1e-3


def test_chi_square_matches_scipy() -> None:
    table = np.array([[30, 70], [55, 45], [20, 20]])
    res = stats.proportion_test(table)
    chi2, p, _dof, _ = sps.chi2_contingency(table, correction=False)
    assert res.method == "chi-square"
    assert res.statistic == pytest.approx(chi2, abs=1e-9)
    assert res.p_value == pytest.approx(p, abs=1e-12)
    assert res.cramers_v == pytest.approx(sps.contingency.association(table), abs=1e-12)


def test_small_two_by_two_uses_fisher() -> None:
    table = np.array([[1, 6], [7, 2]])
    res = stats.proportion_test(table)
    assert res.method == "fisher"
    assert res.p_value == pytest.approx(sps.fisher_exact(table).pvalue, abs=1e-12)


def test_bh_matches_multipletests_and_keeps_nan() -> None:
    p = [0.001, 0.04, 0.03, 0.2, 0.5, 0.011]
    ref = multipletests(p, method="fdr_bh")[1]
    assert stats.bh_adjust(p) == pytest.approx(list(ref), abs=1e-12)
    out = stats.bh_adjust([0.01, math.nan, 0.02])
    assert math.isnan(out[1])
    assert out[0] == pytest.approx(0.02, abs=1e-12)


def test_risk_ratio_matches_statsmodels() -> None:
    rr = stats.risk_ratio(30, 120, 50, 900)
    t = Table2x2(np.array([[30, 90], [50, 850]]))
    lo, hi = t.riskratio_confint(method="normal")
    assert rr.ratio == pytest.approx(t.riskratio, abs=1e-12)
    assert (rr.ci_low, rr.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    # Katz: exp(log RR ± z·sqrt(1/a − 1/n1 + 1/c − 1/n0))
    se = math.sqrt(1 / 30 - 1 / 120 + 1 / 50 - 1 / 900)
    assert rr.ci_low == pytest.approx(math.exp(math.log(rr.ratio) - 1.959963984540054 * se))
    assert math.isnan(stats.risk_ratio(0, 10, 5, 10).ratio)


def test_normal_shrinkage_pulls_small_units_towards_the_mean() -> None:
    rng = np.random.default_rng(1)
    true = rng.normal(0, 1, 300)
    n = rng.integers(1, 60, 300)
    obs = [rng.normal(t, 3, k) for t, k in zip(true, n, strict=True)]
    sums = np.array([o.sum() for o in obs])
    sumsq = np.array([(o**2).sum() for o in obs])
    res = stats.shrink_normal(sums, sumsq, n)
    raw = sums / n
    # Method-of-moments prior recovers roughly the planted spread (SD 1).
    assert 0.6 < res.prior_sd < 1.4
    # Shrinkage reduces the error against the truth.
    assert np.mean((res.mean - true) ** 2) < np.mean((raw - true) ** 2)
    # The 1-observation units move more than the 50+ ones.
    small, big = n <= 3, n >= 50
    move = np.abs(res.mean - raw)
    assert move[small].mean() > 3 * move[big].mean()


def test_binomial_shrinkage_formula() -> None:
    k = np.array([0, 3, 10, 1, 40])
    n = np.array([2, 10, 20, 1, 100])
    res = stats.shrink_binomial(k, n)
    m = k.sum() / n.sum()
    tau2 = (k / n).var(ddof=1) - (m * (1 - m) / n).mean()
    ab = m * (1 - m) / tau2 - 1
    expected = (k + m * ab) / (n + ab)
    assert res.mean == pytest.approx(expected, abs=1e-12)
    # A 1-of-1 unit is not ranked at 100%.
    assert res.mean[3] < 0.9


def test_composite_standardises_and_flips_lower_is_better() -> None:
    comps = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([10.0, 10.0, 40.0])}
    score, zs = stats.composite(comps, {"a": 2.0, "b": 1.0}, {"a": True, "b": False})
    za = (comps["a"] - 2.0) / 1.0
    zb = -(comps["b"] - 20.0) / comps["b"].std(ddof=1)
    assert zs["a"] == pytest.approx(za)
    assert score == pytest.approx((2 * za + zb) / 3)


def test_correlation_matches_scipy() -> None:
    x = RNG.normal(size=50)
    y = 0.4 * x + RNG.normal(size=50)
    c = stats.correlation(x, y)
    assert c.pearson_r == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-12)
    assert c.pearson_p == pytest.approx(sps.pearsonr(x, y).pvalue, abs=1e-12)
    assert c.spearman_p == pytest.approx(sps.spearmanr(x, y).pvalue, abs=1e-12)
