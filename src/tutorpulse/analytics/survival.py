"""Pure survival statistics for tutor retention (plain arrays in, dataclasses out).

- ``kaplan_meier``: lifelines ``KaplanMeierFitter`` with censoring; the curve with
  its pointwise confidence band (lifelines' exponential Greenwood, i.e. the
  log(−log) transform), S(t) at chosen days (None beyond the longest follow-up)
  and the median with its interval (None where the curve never reaches 0.5).
- ``logrank``: lifelines ``multivariate_logrank_test`` across cohorts.
- ``activity_matrix``: the classic cohort × period table; a cell with no tutor
  whose period has fully elapsed is None (unknown), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

DEFAULT_TIMES = (30, 60, 90, 180)


@dataclass(frozen=True)
class CurvePoint:
    day: float
    survival: float
    ci_low: float | None
    ci_high: float | None
    at_risk: int


@dataclass(frozen=True)
class SurvivalAt:
    day: int
    survival: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class KMResult:
    n: int
    events: int
    censored: int
    curve: list[CurvePoint]
    at_days: list[SurvivalAt]
    median: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    max_follow_up: float | None


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def kaplan_meier(
    durations: Sequence[float] | npt.NDArray[np.float64],
    observed: Sequence[bool] | npt.NDArray[np.bool_],
    *,
    times: Sequence[int] = DEFAULT_TIMES,
    alpha: float = 0.05,
) -> KMResult:
    """Kaplan–Meier estimate of survival (time to loss) with right censoring.

    ``observed[i]`` is True when tutor i was lost at ``durations[i]`` and False
    when still active (censored) then.
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(observed, dtype=bool)
    if d.size == 0:
        return KMResult(
            0, 0, 0, [], [SurvivalAt(t, None, None, None) for t in times], None, None, None, None
        )
    kmf = KaplanMeierFitter(alpha=alpha).fit(d, event_observed=e)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    steps = sf.index.to_numpy(dtype=np.float64)
    surv = sf.to_numpy(dtype=np.float64)
    band = ci.to_numpy(dtype=np.float64)
    risk = kmf.event_table["at_risk"].reindex(sf.index, fill_value=0).to_numpy()
    curve = [
        CurvePoint(
            day=float(steps[i]),
            survival=float(surv[i]),
            ci_low=_finite(band[i, 0]),
            ci_high=_finite(band[i, 1]),
            at_risk=int(risk[i]),
        )
        for i in range(steps.size)
    ]
    max_t = float(d.max())
    at_days = []
    for t in times:
        if t > max_t:
            at_days.append(SurvivalAt(t, None, None, None))
            continue
        s = float(kmf.survival_function_at_times(t).iloc[0])
        # The band is a step function like the curve: take the last step at or before t.
        pos = int(np.searchsorted(steps, t, side="right")) - 1
        at_days.append(SurvivalAt(t, s, _finite(band[pos, 0]), _finite(band[pos, 1])))
    median = _finite(kmf.median_survival_time_)
    med_low = med_high = None
    if median is not None:
        mci = median_survival_times(ci)
        med_low, med_high = _finite(mci.iloc[0, 0]), _finite(mci.iloc[0, 1])
    return KMResult(
        n=int(d.size),
        events=int(e.sum()),
        censored=int((~e).sum()),
        curve=curve,
        at_days=at_days,
        median=median,
        median_ci_low=med_low,
        median_ci_high=med_high,
        max_follow_up=max_t,
    )


@dataclass(frozen=True)
class LogRank:
    statistic: float | None
    p_value: float | None
    degrees_of_freedom: int
    groups: int


def logrank(
    durations: Sequence[float] | npt.NDArray[np.float64],
    groups: Sequence[str] | npt.NDArray[np.str_],
    observed: Sequence[bool] | npt.NDArray[np.bool_],
) -> LogRank:
    """Log-rank test that all groups share one survival curve (None with < 2 groups)."""
    g = np.asarray(groups)
    k = len(set(g.tolist()))
    e = np.asarray(observed, dtype=bool)
    if k < 2 or not e.any():
        return LogRank(None, None, max(k - 1, 0), k)
    res = multivariate_logrank_test(np.asarray(durations, dtype=np.float64), g, e)
    return LogRank(_finite(res.test_statistic), _finite(res.p_value), k - 1, k)


@dataclass(frozen=True)
class MatrixRow:
    cohort: str
    size: int
    cells: list[float | None]  # share active in period p among tutors who reached its end
    active: list[int]
    eligible: list[int]


def activity_matrix(
    cohorts: Sequence[str],
    sizes: Mapping[str, int],
    periods: int,
    active: Mapping[tuple[str, int], int],
    eligible: Mapping[tuple[str, int], int],
) -> list[MatrixRow]:
    """Cohort × period retention: active / eligible, None where nobody is eligible yet.

    ``eligible[(c, p)]``: tutors of cohort c whose period p ended before the data
    ends; ``active[(c, p)]``: those of them active in period p.
    """
    rows = []
    for c in cohorts:
        act = [int(active.get((c, p), 0)) for p in range(periods)]
        eli = [int(eligible.get((c, p), 0)) for p in range(periods)]
        cells = [a / n if n > 0 else None for a, n in zip(act, eli, strict=True)]
        rows.append(
            MatrixRow(cohort=c, size=int(sizes.get(c, 0)), cells=cells, active=act, eligible=eli)
        )
    return rows
