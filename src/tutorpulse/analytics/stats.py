"""Named statistical methods used by the performer, first-session and reliability analyses.

Pure functions on numpy arrays; every test statistic comes from scipy or statsmodels
(the tests compare against them on the same numbers). Methods:

* ``welch_t``: Welch's unequal-variance t-test (``scipy.stats.ttest_ind(equal_var=False)``).
* ``cohens_d``: standardised mean difference with the *pooled* SD
  ``sqrt(((n1-1)s1² + (n2-1)s2²) / (n1+n2-2))`` and its normal-approximation CI with
  ``SE = sqrt((n1+n2)/(n1·n2) + d²/(2(n1+n2)))`` (Hedges & Olkin 1985).
* ``proportion_test``: 2×k chi-square test of independence (Pearson, no continuity
  correction) or Fisher's exact test when a 2×2 table has an expected count below 5.
* ``bh_adjust``: Benjamini–Hochberg false-discovery-rate adjusted p-values
  (``statsmodels.stats.multitest.multipletests(method="fdr_bh")``).
* ``risk_ratio``: risk ratio with the Katz log-scale CI (``Table2x2.riskratio_confint``).
* ``shrink_normal`` / ``shrink_binomial``: empirical-Bayes shrinkage of per-unit means
  (normal–normal with a method-of-moments prior; beta–binomial with method-of-moments
  prior), so units with few observations are pulled towards the population mean.
* ``composite``: weighted sum of z-standardised components.
* ``correlation``: Pearson and Spearman coefficients with their p-values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

FloatArray = npt.NDArray[np.float64]


def _clean(x: npt.ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    return a[np.isfinite(a)]


@dataclass(frozen=True)
class TTest:
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    t: float
    df: float
    p_value: float


def welch_t(a: npt.ArrayLike, b: npt.ArrayLike) -> TTest:
    """Welch's t-test of mean(a) vs mean(b) (two-sided), NaNs dropped.

    With fewer than 2 values in a group, or zero variance in both, t and p are NaN.
    """
    x, y = _clean(a), _clean(b)
    ma = float(x.mean()) if x.size else math.nan
    mb = float(y.mean()) if y.size else math.nan
    if x.size < 2 or y.size < 2:
        return TTest(ma, mb, int(x.size), int(y.size), math.nan, math.nan, math.nan)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if va + vb == 0:
        return TTest(ma, mb, int(x.size), int(y.size), math.nan, math.nan, math.nan)
    with warnings.catch_warnings():
        # Near-constant groups: scipy warns about precision; the result is still defined.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_ind(x, y, equal_var=False)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    return TTest(
        ma, mb, int(x.size), int(y.size), float(res.statistic), float(df), float(res.pvalue)
    )


@dataclass(frozen=True)
class EffectSize:
    d: float
    ci_low: float
    ci_high: float


def cohens_d(a: npt.ArrayLike, b: npt.ArrayLike, *, confidence: float = 0.95) -> EffectSize:
    """Cohen's d of a vs b with the pooled SD and a normal-approximation CI (NaN if undefined)."""
    x, y = _clean(a), _clean(b)
    n1, n2 = x.size, y.size
    if n1 < 2 or n2 < 2:
        return EffectSize(math.nan, math.nan, math.nan)
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return EffectSize(math.nan, math.nan, math.nan)
    d = float((x.mean() - y.mean()) / pooled)
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    return EffectSize(d, d - z * se, d + z * se)


@dataclass(frozen=True)
class ProportionTest:
    method: str  # "chi-square" or "fisher"
    statistic: float
    p_value: float
    cramers_v: float


def proportion_test(table: npt.ArrayLike) -> ProportionTest:
    """Test independence in an r×c table of counts (rows = groups).

    A 2×2 table with an expected count below 5 uses Fisher's exact test; otherwise
    Pearson's chi-square without continuity correction. Empty rows/columns are
    dropped; with fewer than 2 usable rows or columns the result is NaN.
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t[t.sum(axis=1) > 0].sum(axis=0) > 0]
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return ProportionTest("chi-square", math.nan, math.nan, math.nan)
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    chi2 = float(((t - expected) ** 2 / expected).sum())
    v = math.sqrt(chi2 / (t.sum() * (min(t.shape) - 1)))
    if t.shape == (2, 2) and expected.min() < 5:
        res = sps.fisher_exact(t.astype(np.int64))
        return ProportionTest("fisher", float(res.statistic), float(res.pvalue), v)
    stat, p, _dof, _exp = sps.chi2_contingency(t, correction=False)
    return ProportionTest("chi-square", float(stat), float(p), v)


def bh_adjust(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values; NaN inputs stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return [float(v) for v in out]


@dataclass(frozen=True)
class RiskRatio:
    risk_exposed: float
    risk_unexposed: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float


def risk_ratio(
    events_exposed: int,
    n_exposed: int,
    events_unexposed: int,
    n_unexposed: int,
    *,
    confidence: float = 0.95,
) -> RiskRatio:
    """Risk ratio exposed/unexposed with the Katz log CI and the chi-square/Fisher p-value.

    NaN where a group is empty or a cell is zero (the log CI is then undefined).
    """
    r1 = events_exposed / n_exposed if n_exposed else math.nan
    r0 = events_unexposed / n_unexposed if n_unexposed else math.nan
    table = np.array(
        [
            [events_exposed, n_exposed - events_exposed],
            [events_unexposed, n_unexposed - events_unexposed],
        ],
        dtype=np.float64,
    )
    if min(n_exposed, n_unexposed) == 0 or events_exposed == 0 or events_unexposed == 0:
        return RiskRatio(r1, r0, math.nan, math.nan, math.nan, math.nan)
    t = Table2x2(table)
    lo, hi = t.riskratio_confint(alpha=1 - confidence, method="normal")
    p = proportion_test(table).p_value
    return RiskRatio(r1, r0, float(t.riskratio), float(lo), float(hi), p)


@dataclass(frozen=True)
class Shrunk:
    """Posterior means and SDs per unit, and the fitted prior."""

    mean: FloatArray
    sd: FloatArray
    prior_mean: float
    prior_sd: float


def shrink_normal(sums: npt.ArrayLike, sumsq: npt.ArrayLike, counts: npt.ArrayLike) -> Shrunk:
    """Normal–normal empirical Bayes for per-unit means of a continuous score.

    Unit i has n_i observations with mean ȳ_i. Within-unit variance σ² is pooled over
    units; the sampling variance of ȳ_i is v_i = σ²/n_i. The prior N(μ, τ²) is fitted by
    the method of moments: μ = the precision-free mean of ȳ_i, τ² = max(0, var(ȳ_i) −
    mean(v_i)). Posterior mean = B_i·μ + (1−B_i)·ȳ_i with B_i = v_i/(v_i+τ²), posterior
    SD = sqrt((1−B_i)·v_i). Units with n_i = 0 get the prior.
    """
    s = np.asarray(sums, dtype=np.float64)
    ss = np.asarray(sumsq, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    has = n > 0
    if not has.any():
        nan = np.full(n.shape, math.nan)
        return Shrunk(nan, nan, math.nan, math.nan)
    ybar = np.where(has, s / np.where(has, n, 1.0), math.nan)
    within_ss = float((ss[has] - s[has] ** 2 / n[has]).sum())
    dof = float(n[has].sum() - has.sum())
    sigma2 = max(within_ss / dof, 0.0) if dof > 0 else 0.0
    v = np.where(has, sigma2 / np.where(has, n, 1.0), math.inf)
    mu = float(ybar[has].mean())
    tau2 = max(float(ybar[has].var(ddof=1)) - float(v[has].mean()), 0.0) if has.sum() > 1 else 0.0
    if tau2 == 0.0:
        post = np.full(n.shape, mu)
        return Shrunk(post, np.zeros(n.shape), mu, 0.0)
    b = np.where(has, v / (v + tau2), 1.0)
    post = np.where(has, b * mu + (1 - b) * np.nan_to_num(ybar), mu)
    sd = np.where(has, np.sqrt((1 - b) * np.where(has, v, 0.0)), math.sqrt(tau2))
    return Shrunk(post, sd, mu, math.sqrt(tau2))


def shrink_binomial(successes: npt.ArrayLike, trials: npt.ArrayLike) -> Shrunk:
    """Beta–binomial empirical Bayes for per-unit rates k_i/n_i.

    Prior Beta(α, β) by the method of moments: m = Σk/Σn; between-unit variance
    τ² = max(0, var(k_i/n_i) − mean(m(1−m)/n_i)); α+β = m(1−m)/τ² − 1. Posterior mean
    (k_i+α)/(n_i+α+β). With τ² = 0 every unit gets m (no detectable differences).
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    has = n > 0
    if not has.any() or n.sum() == 0:
        nan = np.full(n.shape, math.nan)
        return Shrunk(nan, nan, math.nan, math.nan)
    m = float(k.sum() / n.sum())
    p = k[has] / n[has]
    tau2 = float(p.var(ddof=1) - (m * (1 - m) / n[has]).mean()) if has.sum() > 1 else 0.0
    if tau2 <= 0 or m in (0.0, 1.0):
        return Shrunk(np.full(n.shape, m), np.zeros(n.shape), m, 0.0)
    ab = max(m * (1 - m) / tau2 - 1.0, 1e-9)
    a, b = m * ab, (1 - m) * ab
    post_a, post_b = k + a, n - k + b
    mean = post_a / (post_a + post_b)
    sd = np.sqrt(post_a * post_b / ((post_a + post_b) ** 2 * (post_a + post_b + 1)))
    return Shrunk(mean, sd, m, math.sqrt(tau2))


def zscore(x: npt.ArrayLike) -> FloatArray:
    """(x − mean)/SD over the finite values (SD with ddof=1); constant input gives zeros."""
    a = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(a)
    if ok.sum() < 2:
        return np.where(ok, 0.0, math.nan)
    sd = float(a[ok].std(ddof=1))
    if sd == 0:
        return np.where(ok, 0.0, math.nan)
    return (a - float(a[ok].mean())) / sd


def composite(
    components: Mapping[str, npt.ArrayLike],
    weights: Mapping[str, float],
    higher_is_better: Mapping[str, bool],
) -> tuple[FloatArray, dict[str, FloatArray]]:
    """Weighted sum of standardised components, divided by the sum of |weights|.

    Each component is z-scored across units and sign-flipped when lower is better, so
    a composite of 0 is an average unit and 1 is one SD above average on every
    component. Missing component values count as 0 (average). Returns the score and
    the standardised components.
    """
    total = sum(abs(w) for name, w in weights.items() if name in components)
    zs: dict[str, FloatArray] = {}
    score: FloatArray | None = None
    for name, values in components.items():
        z = zscore(values)
        if not higher_is_better.get(name, True):
            z = -z
        zs[name] = z
        w = weights.get(name, 0.0)
        part = np.nan_to_num(z) * (w / total if total else 0.0)
        score = part if score is None else score + part
    if score is None:
        score = np.zeros(0)
    return score, zs


@dataclass(frozen=True)
class Correlation:
    n: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float


def correlation(x: npt.ArrayLike, y: npt.ArrayLike) -> Correlation:
    """Pearson r and Spearman ρ with two-sided p-values over pairs where both are finite."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return Correlation(int(a.size), math.nan, math.nan, math.nan, math.nan)
    pr = sps.pearsonr(a, b)
    sr = sps.spearmanr(a, b)
    return Correlation(
        int(a.size), float(pr.statistic), float(pr.pvalue), float(sr.statistic), float(sr.pvalue)
    )


def strength(r: float) -> str:
    """Verbal label of |r| (Cohen's conventions: 0.1 small, 0.3 medium, 0.5 large)."""
    if not math.isfinite(r):
        return "undefined"
    a = abs(r)
    return "large" if a >= 0.5 else "medium" if a >= 0.3 else "small" if a >= 0.1 else "negligible"


def finite_or_none(x: float | None) -> float | None:
    """JSON-safe float: None for NaN/inf."""
    if x is None:
        return None
    return float(x) if math.isfinite(x) else None


def rows_of(frame: Any) -> list[Any]:
    """A frame's rows as named tuples (typed loosely: columns are known only at run time)."""
    return list(frame.itertuples())


def rows_of_indexed(frame: Any) -> list[tuple[Any, Any]]:
    """A frame's (index, row Series) pairs, typed loosely."""
    return list(frame.iterrows())
