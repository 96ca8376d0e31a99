"""Star performers: a shrunk composite score, segments and the factors that differ.

Pure: frames in, a ``PerformerAnalysis`` out (docs/analytics.md "Star performers").

* Components (what students experience): mean rating (1–5), satisfaction, engagement,
  empathy, clarity (1–10) and the would-recommend rate, over completed sessions in
  the window. Each is shrunk by empirical Bayes (normal–normal for scores,
  beta–binomial for the rate) so a tutor with 3 sessions sits near the average,
  then z-standardised across ranked tutors; the composite is their weighted sum
  (weights from settings) divided by the sum of weights, i.e. in SD units.
* Ranked: active tutors with at least ``min_sessions`` completed sessions.
* Segments: star = top ``share`` (ceil, at least 1), lagging = bottom ``share``.
* Factors: behaviours that are *not* components of the score (no-shows,
  reschedules, cancellations, lateness, technical issues, self-initiated activity
  such as profile updates and training, tenure), compared star vs average and
  lagging vs average with Welch's t,
  Cohen's d (pooled SD, CI) and Benjamini–Hochberg over all 2×k tests. Comparing
  segments on the components that define them would be circular.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from tutorpulse.analytics import stats
from tutorpulse.analytics.factors import Comparison, Metric, adjust, compare, fmt

COMPONENTS: tuple[tuple[str, str], ...] = (
    ("rating", "Student rating (1–5)"),
    ("satisfaction", "Satisfaction (1–10)"),
    ("engagement", "Engagement (1–10)"),
    ("empathy", "Empathy (1–10)"),
    ("clarity", "Clarity (1–10)"),
    ("recommend", "Would recommend (rate)"),
)
FACTORS: tuple[Metric, ...] = (
    Metric("tutorNoShowRate", "Tutor no-show rate", False, "%"),
    Metric("tutorRescheduleRate", "Tutor reschedule rate", False, "%"),
    Metric("tutorCancelRate", "Tutor cancellation rate", False, "%"),
    Metric("avgLateMinutes", "Minutes late (mean)", False, " min"),
    Metric("technicalIssueRate", "Technical issue rate", False, "%"),
    Metric("backgroundActivityPerWeek", "Self-initiated activity per week", True),
    Metric("tenureMonths", "Tenure (months)", None),
)
# Shown for context, not tested: both follow from the score itself (students of
# well-rated tutors rebook, and a login precedes most sessions), so a difference would
# restate the segmentation rather than explain it.
CONTEXT: tuple[Metric, ...] = (
    Metric("sessionsPerWeek", "Completed sessions per week", None),
    Metric("loginsPerWeek", "Logins per week", True),
)
SEGMENTS = ("star", "average", "lagging")


@dataclass(frozen=True)
class PerformerAnalysis:
    ranked: pd.DataFrame  # one row per ranked tutor, sorted by composite desc
    comparisons: list[Comparison]
    prior: dict[str, dict[str, float]]
    n_candidates: int  # active tutors in scope with any session
    segment_sizes: dict[str, int]


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num.astype(float) / den.astype(float).where(den > 0)


def tutor_metrics(
    tutors: pd.DataFrame, sessions: pd.DataFrame, events: pd.DataFrame, *, now: date, weeks: float
) -> pd.DataFrame:
    """Join the per-tutor aggregates and derive the factor columns (rates per due session)."""
    df = tutors.merge(sessions, on="tutor_id", how="inner")
    df = df.merge(events, on="tutor_id", how="left")
    for col in ("logins", "background"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0.0)
    df["tutorNoShowRate"] = _ratio(df["tutor_no_show"], df["due"])
    df["tutorRescheduleRate"] = _ratio(df["resched_tutor"], df["due"])
    df["tutorCancelRate"] = _ratio(df["cancel_tutor"], df["due"])
    df["avgLateMinutes"] = _ratio(df["late_sum"], df["late_n"])
    df["technicalIssueRate"] = _ratio(df["tech_yes"], df["tech_n"])
    df["loginsPerWeek"] = df["logins"].astype(float) / weeks
    df["backgroundActivityPerWeek"] = df["background"].astype(float) / weeks
    df["sessionsPerWeek"] = df["completed"].astype(float) / weeks
    joined = pd.to_datetime(df["joined_on"])
    df["tenureMonths"] = (pd.Timestamp(now) - joined).dt.days.astype(float) / 30.4375
    return df


def analyse(
    metrics: pd.DataFrame,
    *,
    min_sessions: int,
    share: float,
    weights: Mapping[str, float],
) -> PerformerAnalysis:
    """Rank tutors with at least ``min_sessions`` completed sessions and compare segments."""
    n_candidates = len(metrics)
    df = metrics[metrics["completed"] >= min_sessions].copy().reset_index(drop=True)
    prior: dict[str, dict[str, float]] = {}
    comps: dict[str, np.ndarray] = {}
    for key, _label in COMPONENTS:
        if key == "recommend":
            raw = _ratio(df["recommend_yes"], df["recommend_n"])
            sh = stats.shrink_binomial(df["recommend_yes"], df["recommend_n"])
        else:
            raw = _ratio(df[f"{key}_sum"], df[f"{key}_n"])
            sh = stats.shrink_normal(df[f"{key}_sum"], df[f"{key}_sumsq"], df[f"{key}_n"])
        df[f"{key}_raw"] = raw
        df[f"{key}_shrunk"] = sh.mean
        comps[key] = sh.mean
        prior[key] = {"mean": sh.prior_mean, "sd": sh.prior_sd}
    score, zs = stats.composite(comps, weights, {k: True for k, _ in COMPONENTS})
    df["composite"] = score
    for key, z in zs.items():
        df[f"{key}_z"] = z
    df = df.sort_values(["composite", "external_id"], ascending=[False, True]).reset_index(
        drop=True
    )
    n = len(df)
    k = max(1, math.ceil(share * n)) if n >= 3 else 0
    seg = np.full(n, "average", dtype=object)
    if k:
        seg[:k] = "star"
        seg[n - k :] = "lagging"
    df["segment"] = seg
    df["rank"] = np.arange(1, n + 1)
    star, avg, lag = (df[df["segment"] == s] for s in SEGMENTS)
    comparisons = adjust(
        compare(star, avg, FACTORS, "star_vs_average")
        + compare(lag, avg, FACTORS, "lagging_vs_average")
    )
    return PerformerAnalysis(
        ranked=df,
        comparisons=comparisons,
        prior=prior,
        n_candidates=n_candidates,
        segment_sizes={s: int((seg == s).sum()) for s in SEGMENTS},
    )


def insight(c: Comparison, fdr: float) -> str:
    a, b = c.group.split("_vs_")
    if not c.significant(fdr):
        return (
            f"No significant difference in {c.metric.label.lower()} between {a} and {b} "
            f"tutors after Benjamini–Hochberg correction (adjusted p = {c.p_adjusted:.3g})."
        )
    direction = "higher" if c.difference > 0 else "lower"
    return (
        f"{a.title()} tutors have {direction} {c.metric.label.lower()} than {b} tutors "
        f"({fmt(c.mean_a, c.metric.unit)} vs {fmt(c.mean_b, c.metric.unit)}; d = {c.d:.2f}, "
        f"95% CI {c.d_low:.2f} to {c.d_high:.2f}; adjusted p = {c.p_adjusted:.2g})."
    )


def recommendations(comparisons: list[Comparison], fdr: float) -> dict[str, list[str]]:
    """Per segment, one action per significant factor with a direction; nothing otherwise."""
    recs: dict[str, list[str]] = {s: [] for s in SEGMENTS}
    for c in sorted(comparisons, key=lambda c: -abs(c.d) if math.isfinite(c.d) else 0):
        if not c.significant(fdr) or c.better() is None:
            continue
        label = c.metric.label.lower()
        gap = f"{fmt(c.mean_a, c.metric.unit)} vs {fmt(c.mean_b, c.metric.unit)} for average"
        if c.group == "star_vs_average" and c.better():
            recs["star"].append(
                f"Ask star tutors to share how they keep {label} where it is ({gap} tutors)."
            )
            recs["average"].append(
                f"Coach average tutors on {label}: stars are at {gap} tutors (d = {c.d:.2f})."
            )
        elif c.group == "lagging_vs_average" and not c.better():
            recs["lagging"].append(
                f"Intervene on {label}: lagging tutors are at {gap} tutors (d = {c.d:.2f})."
            )
    return recs
