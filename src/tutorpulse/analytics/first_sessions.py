"""First sessions: the poor cohort against the other tutors, and what a poor start costs.

Pure (docs/analytics.md "First sessions"):

* Population: tutors with at least one first session (``is_first_session``, status
  completed or tutor_no_show) in the window.
* Poor cohort: tutors with at least one *failed* first session — a tutor no-show or a
  rating ≤ ``rating_max`` (the world's definition). Compared with the **other**
  tutors of the population (disjoint groups): Welch's t and Cohen's d for numeric
  metrics, chi-square for certification; Benjamini–Hochberg over the family.
* Churn consequence: churn rate with vs without a failed first session (risk ratio,
  Katz CI), and a Cox proportional-hazards model with a time-varying exposure (see
  ``cox_episodes``), on tenure time (so tenure is adjusted for by the baseline) with
  log session volume as a covariate.
* Student side: rebooking after a good vs a poor rated first session.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from tutorpulse.analytics import stats
from tutorpulse.analytics.factors import Comparison, Metric, compare

METRICS: tuple[Metric, ...] = (
    Metric("tenureMonths", "Experience (months)", True),
    Metric("firstRating", "First-session rating", True),
    Metric("firstEngagement", "First-session engagement", True),
    Metric("firstEmpathy", "First-session empathy", True),
    Metric("firstClarity", "First-session clarity", True),
    Metric("firstSatisfaction", "First-session satisfaction", True),
    Metric("firstTechnicalIssueRate", "First-session technical issue rate", False, "%"),
    Metric("tutorNoShowRate", "Tutor no-show rate (all sessions)", False, "%"),
    Metric("tutorRescheduleRate", "Tutor reschedule rate (all sessions)", False, "%"),
    Metric("avgLateMinutes", "Minutes late (mean)", False, " min"),
    Metric("firstSessions", "First sessions (new pairings)", None),
)
CERT_LEVELS = ("basic", "advanced", "expert")


@dataclass(frozen=True)
class CoxResult:
    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    n_tutors: int
    n_events: int
    n_exposed_events: int
    covariates: dict[str, dict[str, float]]
    error: str | None = None


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num.astype(float) / den.astype(float).where(den > 0)


def population(
    firsts: pd.DataFrame, sessions: pd.DataFrame, tutors: pd.DataFrame, *, now: datetime
) -> pd.DataFrame:
    """Tutors with a first session, with their comparison metrics and ``poor`` flag."""
    df = firsts.merge(tutors, on="tutor_id", how="inner").merge(sessions, on="tutor_id", how="left")
    df["poor"] = df["first_failed"] > 0
    end = pd.to_datetime(df["churned_at"], utc=True).fillna(pd.Timestamp(now))
    joined = pd.to_datetime(df["joined_on"]).dt.tz_localize("UTC")
    df["tenureMonths"] = (end - joined).dt.days.clip(lower=0).astype(float) / 30.4375
    for name in ("rating", "engagement", "empathy", "clarity", "satisfaction"):
        df[f"first{name.title()}"] = df[f"first_{name}"].astype(float)
    df["firstTechnicalIssueRate"] = _ratio(df["first_tech_yes"], df["first_tech_n"])
    df["tutorNoShowRate"] = _ratio(df["tutor_no_show"], df["due"])
    df["tutorRescheduleRate"] = _ratio(df["resched_tutor"], df["due"])
    df["avgLateMinutes"] = _ratio(df["late_sum"], df["late_n"])
    df["firstSessions"] = df["first_n"].astype(float)
    return df


def compare_cohorts(pop: pd.DataFrame) -> tuple[list[Comparison], stats.ProportionTest]:
    """Poor vs other tutors on every metric (BH-adjusted) and the certification mix."""
    poor, other = pop[pop["poor"]], pop[~pop["poor"]]
    comparisons = compare(poor, other, METRICS, "poor_vs_other")
    table = np.array(
        [[(g["certification_level"] == lvl).sum() for lvl in CERT_LEVELS] for g in (poor, other)]
    )
    cert = stats.proportion_test(table)
    # The certification test joins the family for the correction.
    adj = stats.bh_adjust([c.p_value for c in comparisons] + [cert.p_value])
    comparisons = [
        Comparison(**{**c.__dict__, "p_adjusted": p})
        for c, p in zip(comparisons, adj[:-1], strict=True)
    ]
    cert_adj = stats.ProportionTest(cert.method, cert.statistic, adj[-1], cert.cramers_v)
    return comparisons, cert_adj


def cox_episodes(
    pop: pd.DataFrame, failed: pd.DataFrame, *, lag_days: int, exposure_days: int
) -> pd.DataFrame:
    """Start–stop rows on tenure time (days since joining) with a time-varying exposure.

    A tutor enters at their first first session in the window (``first_at``): entering
    at the window start would count the time before it, during which a tutor who is
    already disengaging cannot have been matched with a new student, as unexposed
    time free of churn (immortal-time bias). The tutor leaves at churn or censoring
    (``churn_time``). After each failed first session the tutor counts as exposed from
    ``lag_days`` to ``lag_days + exposure_days`` after it: churn is recorded weeks after
    disengagement begins, so the exposure window is shifted by that lag. Overlapping
    windows merge. Covariate ``log_volume`` = log(1 + completed sessions per week).
    """
    joined = pd.to_datetime(pop["joined_on"]).dt.tz_localize("UTC")
    start = (pd.to_datetime(pop["first_at"], utc=True) - joined).dt.total_seconds() / 86400
    stop = (pd.to_datetime(pop["churn_time"], utc=True) - joined).dt.total_seconds() / 86400
    base = pd.DataFrame(
        {
            "id": pop["tutor_id"].to_numpy(),
            "start": start.clip(lower=0).to_numpy(),
            "stop": stop.to_numpy(),
            "event": pop["churned"].astype(int).to_numpy(),
            "log_volume": np.log1p(pop["volume_per_week"].fillna(0).to_numpy()),
        }
    )
    base = base[base["stop"] > base["start"]]
    joined_by_id = dict(zip(pop["tutor_id"], joined, strict=True))
    f = failed[failed["tutor_id"].isin(base["id"])].copy()
    rows: list[dict[str, Any]] = []
    exposed_ids: set[int] = set()
    if not f.empty:
        fj = f["tutor_id"].map(joined_by_id)
        f["t"] = (pd.to_datetime(f["scheduled_start"], utc=True) - fj).dt.total_seconds() / 86400
        # One pass per tutor with a failed first session (a minority), not one query each;
        # plain arrays and a dict, as a pandas look-up per tutor cost seconds.
        spans = {
            int(i): (float(s), float(e), int(ev), float(v))
            for i, s, e, ev, v in zip(
                base["id"], base["start"], base["stop"], base["event"], base["log_volume"],
                strict=True,
            )
        }  # fmt: skip
        order = f.sort_values(["tutor_id", "t"], kind="stable")
        tids = order["tutor_id"].to_numpy()
        times = order["t"].to_numpy(dtype=float)
        bounds = np.flatnonzero(tids[1:] != tids[:-1]) + 1
        for first, last in zip(
            np.concatenate(([0], bounds)), np.concatenate((bounds, [tids.size])), strict=True
        ):
            tid = int(tids[first])
            b_start, b_stop, b_event, b_volume = spans[tid]
            cuts: list[tuple[float, float]] = []
            for t in times[first:last]:
                lo, hi = t + lag_days, t + lag_days + exposure_days
                if cuts and lo <= cuts[-1][1]:
                    cuts[-1] = (cuts[-1][0], max(cuts[-1][1], hi))
                else:
                    cuts.append((lo, hi))
            points = sorted(
                {b_start, b_stop} | {x for c in cuts for x in c if b_start < x < b_stop}
            )
            for s, e in itertools.pairwise(points):
                mid = (s + e) / 2
                rows.append(
                    {
                        "id": tid,
                        "start": s,
                        "stop": e,
                        "event": b_event if e == b_stop else 0,
                        "log_volume": b_volume,
                        "exposed": float(any(lo <= mid < hi for lo, hi in cuts)),
                    }
                )
            exposed_ids.add(tid)
    plain = base[~base["id"].isin(exposed_ids)].assign(exposed=0.0)
    return pd.concat([plain, pd.DataFrame(rows, columns=plain.columns)], ignore_index=True)


def fit_cox(episodes: pd.DataFrame) -> CoxResult:
    """Cox PH of churn on the time-varying exposure and log volume.

    statsmodels ``PHReg`` on counting-process rows with ``entry`` (left truncation):
    the same partial likelihood as a time-varying Cox model. Breslow ties (times are
    continuous, so ties are rare). It gives lifelines ``CoxPHFitter``'s estimates (a
    test compares them) in a fraction of the time on large worlds; lifelines'
    ``CoxTimeVaryingFitter`` also diverged on some of these data sets.
    """
    from statsmodels.duration.hazard_regression import PHReg

    n_t = int(episodes["id"].nunique())
    n_ev = int(episodes["event"].sum())
    n_exp_ev = int(episodes.loc[episodes["exposed"] > 0, "event"].sum())
    nan = math.nan
    if n_ev < 5 or n_exp_ev < 1 or episodes["exposed"].nunique() < 2:
        return CoxResult(nan, nan, nan, nan, n_t, n_ev, n_exp_ev, {}, "too few events")
    names = ["exposed", "log_volume"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = PHReg(
                episodes["stop"].to_numpy(dtype=float),
                episodes[names].to_numpy(dtype=float),
                status=episodes["event"].to_numpy(dtype=float),
                entry=episodes["start"].to_numpy(dtype=float),
                ties="breslow",
            ).fit()
    except Exception as exc:  # singular information matrix and similar numpy errors
        return CoxResult(nan, nan, nan, nan, n_t, n_ev, n_exp_ev, {}, str(exc)[:200])
    params = np.asarray(fit.params, dtype=float)
    ci = np.asarray(fit.conf_int(), dtype=float)
    pvalues = np.asarray(fit.pvalues, dtype=float)
    if not np.isfinite(params).all():
        return CoxResult(nan, nan, nan, nan, n_t, n_ev, n_exp_ev, {}, "did not converge")
    cov = {
        name: {
            "hazardRatio": float(np.exp(params[i])),
            "ciLow": float(np.exp(ci[i, 0])),
            "ciHigh": float(np.exp(ci[i, 1])),
            "pValue": float(pvalues[i]),
        }
        for i, name in enumerate(names)
    }
    e = cov["exposed"]
    return CoxResult(
        e["hazardRatio"], e["ciLow"], e["ciHigh"], e["pValue"], n_t, n_ev, n_exp_ev, cov
    )


def rebooking(table: pd.DataFrame) -> dict[str, Any]:
    """Rebooking after good vs poor first sessions with the risk ratio and its test."""

    def row(poor: bool) -> tuple[int, int]:
        r = table[table["poor"].astype(bool) == poor]
        return (int(r["rebooked"].sum()), int(r["n"].sum())) if len(r) else (0, 0)

    (pk, pn), (gk, gn) = row(True), row(False)
    rr = stats.risk_ratio(pk, pn, gk, gn)
    test = stats.proportion_test([[pk, pn - pk], [gk, gn - gk]])
    return {
        "poorFirstSessions": pn,
        "poorRebooked": pk,
        "poorRebookingRate": stats.finite_or_none(pk / pn if pn else math.nan),
        "goodFirstSessions": gn,
        "goodRebooked": gk,
        "goodRebookingRate": stats.finite_or_none(gk / gn if gn else math.nan),
        "riskRatio": stats.finite_or_none(rr.ratio),
        "riskRatioCi": [stats.finite_or_none(rr.ci_low), stats.finite_or_none(rr.ci_high)],
        "test": test.method,
        "pValue": stats.finite_or_none(test.p_value),
    }


RECOMMENDATIONS = {
    "tenureMonths": "Give tutors in their first months a structured onboarding and a "
    "shadowed first session.",
    "firstEngagement": "Train tutors on opening a first session: goals, icebreaker, "
    "checking understanding.",
    "firstEmpathy": "Offer active-listening training to tutors with poor first sessions.",
    "firstClarity": "Share explanation guidelines and worked-example templates.",
    "firstSatisfaction": "Follow up with the student within 24 hours of a poor first session.",
    "firstTechnicalIssueRate": "Run a technical check before first sessions.",
    "tutorNoShowRate": "Send reminders before first sessions and confirm availability; "
    "no-shows are part of the poor cohort's pattern.",
    "tutorRescheduleRate": "Ask tutors to keep first bookings stable; reschedules cluster "
    "with poor starts.",
    "avgLateMinutes": "Prompt tutors to join first sessions early; lateness is higher in "
    "the poor cohort.",
}


def recommendations(comparisons: list[Comparison], fdr: float) -> list[str]:
    """One sentence per significant comparison where the poor cohort is worse."""
    out = []
    for c in sorted(comparisons, key=lambda c: c.p_adjusted):
        if c.significant(fdr) and c.better() is False and c.metric.key in RECOMMENDATIONS:
            out.append(RECOMMENDATIONS[c.metric.key])
    return out
