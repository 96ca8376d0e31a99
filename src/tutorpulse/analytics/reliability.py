"""Reliability: reschedules by initiator, no-shows, replacements, local-time slots, at-risk tutors.

Pure (docs/analytics.md "Reliability"). Rates are per *due* session (any status but
``scheduled``) in the window. A tutor's failure rate is (tutor no-shows + tutor
reschedules + tutor cancellations) / due sessions, shrunk by beta–binomial empirical
Bayes before it is compared with the threshold, so 1 failure in 2 sessions does not
flag a tutor. Urgency uses the original platform's cut-points relative to its
default threshold (0.15 → high above 0.20, critical above 0.30): high above
4/3 × threshold, critical above 2 × threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from tutorpulse.analytics import stats
from tutorpulse.analytics.stats import rows_of, rows_of_indexed

CORRELATES: tuple[tuple[str, str], ...] = (
    ("avgRating", "Mean student rating"),
    ("avgEngagement", "Mean engagement score"),
    ("technicalIssueRate", "Technical issue rate"),
    ("avgLateMinutes", "Minutes late (mean)"),
    ("loginsPerWeek", "Logins per week"),
    ("tenureMonths", "Tenure (months)"),
)


def _rate(k: float, n: float) -> float | None:
    return stats.finite_or_none(k / n) if n else None


def initiator_split(totals: pd.DataFrame) -> dict[str, Any]:
    """Reschedules and cancellations by initiator, tutor share with its Wilson CI."""
    out: dict[str, Any] = {}
    for status, key in (("rescheduled", "reschedules"), ("cancelled", "cancellations")):
        rows = totals[totals["status"] == status]
        pairs = zip(rows["initiator"], rows["n"], strict=True)
        by = {str(i) if i else "unknown": int(n) for i, n in pairs}
        tutor = by.get("tutor", 0)
        known = tutor + by.get("student", 0)
        lo, hi = proportion_confint(tutor, known, method="wilson") if known else (None, None)
        out[key] = {
            "total": int(rows["n"].sum()),
            "byInitiator": by,
            "tutorInitiatedShare": _rate(tutor, known),
            "tutorInitiatedShareCi": [stats.finite_or_none(lo), stats.finite_or_none(hi)]
            if known
            else [None, None],
        }
    due = int(totals["n"].sum())
    tns = int(totals.loc[totals["status"] == "tutor_no_show", "n"].sum())
    sns = int(totals.loc[totals["status"] == "student_no_show", "n"].sum())
    out["noShows"] = {
        "sessionsDue": due,
        "tutorNoShows": tns,
        "studentNoShows": sns,
        "tutorNoShowRate": _rate(tns, due),
        "studentNoShowRate": _rate(sns, due),
    }
    return out


def replacement_summary(rows: pd.DataFrame, window_days: int) -> dict[str, Any]:
    by = {str(c): int(r) for c, r in zip(rows["cause"], rows["replacements"], strict=False)}
    total = sum(by.values())
    return {
        "total": total,
        "byCause": by,
        "noShowShare": _rate(by.get("no_show", 0), total),
        "failuresByCause": {
            str(c): int(f) for c, f in zip(rows["cause"], rows["failures"], strict=True)
        },
        "windowDays": window_days,
        "definition": (
            "each student's sessions in one subject ordered by scheduled start; a tutor-side "
            "failure (no-show, or cancelled/rescheduled by the tutor) followed by the next "
            f"session with a different tutor within {window_days} days; the cause is the "
            "failure's type"
        ),
    }


def slots(frame: pd.DataFrame) -> dict[str, Any]:
    """Rates by local weekday × hour, per weekday and per hour, with chi-square tests."""
    df = frame.copy()
    df["failures"] = df["tutor_no_show"] + df["resched_tutor"] + df["cancel_tutor"]
    cells = [
        {
            "dayOfWeek": int(r.weekday),
            "hourOfDay": int(r.hour),
            "due": int(r.due),
            "tutorNoShowRate": _rate(r.tutor_no_show, r.due),
            "studentNoShowRate": _rate(r.student_no_show, r.due),
            "tutorRescheduleRate": _rate(r.resched_tutor, r.due),
            "tutorFailureRate": _rate(r.failures, r.due),
        }
        for r in rows_of(df.sort_values(["weekday", "hour"]))
    ]

    def margin(key: str) -> dict[str, Any]:
        g = df.groupby(key)[["due", "tutor_no_show", "student_no_show", "failures"]].sum()
        table = np.column_stack([g["tutor_no_show"], g["due"] - g["tutor_no_show"]])
        test = stats.proportion_test(table)
        return {
            "rows": [
                {
                    key: int(i),
                    "due": int(r.due),
                    "tutorNoShowRate": _rate(r.tutor_no_show, r.due),
                    "studentNoShowRate": _rate(r.student_no_show, r.due),
                    "tutorFailureRate": _rate(r.failures, r.due),
                }
                for i, r in rows_of_indexed(g)
            ],
            "tutorNoShowTest": {
                "method": test.method,
                "statistic": stats.finite_or_none(test.statistic),
                "pValue": stats.finite_or_none(test.p_value),
                "cramersV": stats.finite_or_none(test.cramers_v),
            },
        }

    by_day = margin("weekday")
    for row in by_day["rows"]:
        row["dayOfWeek"] = row.pop("weekday")
    by_hour = margin("hour")
    for row in by_hour["rows"]:
        row["hourOfDay"] = row.pop("hour")
    return {"cells": cells, "byDayOfWeek": by_day, "byHourOfDay": by_hour}


def tutor_rates(metrics: pd.DataFrame) -> pd.DataFrame:
    df = metrics.copy()
    df["failures"] = df["tutor_no_show"] + df["resched_tutor"] + df["cancel_tutor"]
    df["failureRate"] = df["failures"] / df["due"].where(df["due"] > 0)
    sh = stats.shrink_binomial(df["failures"], df["due"])
    df["failureRateShrunk"] = sh.mean
    df["avgRating"] = df["rating_sum"].astype(float) / df["rating_n"].where(df["rating_n"] > 0)
    df["avgEngagement"] = df["engagement_sum"].astype(float) / df["engagement_n"].where(
        df["engagement_n"] > 0
    )
    return df


def urgency(rate: float, threshold: float) -> str:
    if rate > 2 * threshold:
        return "critical"
    if rate > 4 / 3 * threshold:
        return "high"
    return "medium"


def ranked(df: pd.DataFrame, *, min_sessions: int) -> pd.DataFrame:
    """Tutors with at least ``min_sessions`` due, highest shrunk failure rate first
    (ties by tutor id, so the order is fully determined)."""
    sel = df[df["due"] >= min_sessions]
    return sel.sort_values(["failureRateShrunk", "external_id"], ascending=[False, True])


def at_risk(df: pd.DataFrame, *, threshold: float, min_sessions: int) -> pd.DataFrame:
    """Tutors with at least ``min_sessions`` due whose shrunk failure rate exceeds ``threshold``."""
    sel = ranked(df, min_sessions=min_sessions)
    sel = sel[sel["failureRateShrunk"] > threshold].copy()
    sel["urgency"] = [urgency(r, threshold) for r in sel["failureRateShrunk"]]
    return sel


def correlations(df: pd.DataFrame, *, min_sessions: int) -> list[dict[str, Any]]:
    """Per-tutor failure rate against each correlate: Pearson and Spearman with BH over the set."""
    d = df[df["due"] >= min_sessions]
    res = [(key, label, stats.correlation(d["failureRate"], d[key])) for key, label in CORRELATES]
    adj = stats.bh_adjust([c.spearman_p for _k, _l, c in res])
    return [
        {
            "x": "tutorFailureRate",
            "y": key,
            "label": label,
            "n": c.n,
            "pearsonR": stats.finite_or_none(c.pearson_r),
            "pearsonP": stats.finite_or_none(c.pearson_p),
            "spearmanRho": stats.finite_or_none(c.spearman_rho),
            "spearmanP": stats.finite_or_none(c.spearman_p),
            "spearmanPAdjusted": stats.finite_or_none(p),
            "strength": stats.strength(c.spearman_rho),
        }
        for (key, label, c), p in zip(res, adj, strict=True)
    ]


def nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
