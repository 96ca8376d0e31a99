"""Group comparisons shared by the performer and first-session analyses.

One ``compare`` call runs Welch's t-test and Cohen's d (pooled SD, CI) for every metric
between two groups; ``adjust`` applies Benjamini–Hochberg across a whole family of
comparisons so a page of factors is corrected as one family.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tutorpulse.analytics import stats


@dataclass(frozen=True)
class Metric:
    key: str  # column in the frame and JSON name
    label: str
    higher_is_better: bool | None  # None: neither direction is "better"
    unit: str = ""


@dataclass(frozen=True)
class Comparison:
    metric: Metric
    group: str  # e.g. "star_vs_average"
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    t: float
    df: float
    p_value: float
    d: float
    d_low: float
    d_high: float
    p_adjusted: float = math.nan

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def percent_difference(self) -> float:
        if not math.isfinite(self.mean_b) or self.mean_b == 0:
            return math.nan
        return 100.0 * self.difference / abs(self.mean_b)

    def significant(self, fdr: float) -> bool:
        return math.isfinite(self.p_adjusted) and self.p_adjusted < fdr

    def better(self) -> bool | None:
        """True if group a is better than b on this metric (None if no direction)."""
        if self.metric.higher_is_better is None or not math.isfinite(self.difference):
            return None
        return (self.difference > 0) == self.metric.higher_is_better

    def label(self, fdr: float) -> str:
        """high: significant and |d| ≥ 0.8; medium: |d| ≥ 0.5; low: any other significant."""
        if not self.significant(fdr):
            return "not_significant"
        a = abs(self.d) if math.isfinite(self.d) else 0.0
        return "high" if a >= 0.8 else "medium" if a >= 0.5 else "low"


def compare(
    frame_a: pd.DataFrame, frame_b: pd.DataFrame, metrics: Sequence[Metric], group: str
) -> list[Comparison]:
    out = []
    for m in metrics:
        a = frame_a[m.key].to_numpy(dtype=np.float64)
        b = frame_b[m.key].to_numpy(dtype=np.float64)
        t = stats.welch_t(a, b)
        d = stats.cohens_d(a, b)
        out.append(
            Comparison(
                m, group, t.mean_a, t.mean_b, t.n_a, t.n_b, t.t, t.df, t.p_value,
                d.d, d.ci_low, d.ci_high,
            )
        )  # fmt: skip
    return out


def adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The same comparisons with Benjamini–Hochberg adjusted p-values over the family."""
    adj = stats.bh_adjust([c.p_value for c in comparisons])
    return [replace(c, p_adjusted=p) for c, p in zip(comparisons, adj, strict=True)]


def fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if unit == "%":
        return f"{100 * value:.1f}%"
    return f"{value:.2f}{unit}"
