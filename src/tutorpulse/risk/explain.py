"""Per-score drivers in words a coach understands.

Features are grouped into topics (logins, sessions, reliability, …). A group's
contribution to one score is on the calibrated log-odds scale:

* logistic regression: Σ coefficient × standardised value over the group's
  features (the exact additive decomposition around the training mean);
* gradient boosting: log-odds(x) − log-odds(x with the group's features set to
  the training medians) — "how much higher is this score than if this topic
  looked like a typical tutor's". One extra prediction per group; it is not a
  Shapley value (interactions are credited to whichever group is swapped).

Both are multiplied by the Platt slope. The top positive contributions (those
raising the risk) become the drivers, each with a sentence built from the
tutor's own values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.model import RiskModel
from tutorpulse.risk.noshow import STUDENT_TARGET
from tutorpulse.risk.student import STUDENT_FEATURES

TOP_DRIVERS = 3
Row = dict[str, Any]


def _n(v: Any) -> str:
    return "no" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def _f1(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _logins(r: Row) -> str:
    days = r["days_since_login"]
    lead = "no login in the last 90 days" if days >= 90 else f"no login for {days:.0f} days"
    return f"{lead}; {_n(r['logins_30d'])} logins in the last 30 days"


def _activity(r: Row) -> str:
    ratio = r["activity_ratio_14d"]
    return (
        f"active on {_n(r['active_days_14d'])} of the last 14 days; "
        f"activity at {ratio:.0%} of its level a month earlier"
    )


def _sessions(r: Row) -> str:
    return (
        f"{_n(r['completed_30d'])} completed sessions in the last 30 days "
        f"vs {_n(r['completed_prev_30d'])} in the 30 days before"
    )


def _bookings(r: Row) -> str:
    return (
        f"{_n(r['bookings_14d'])} new bookings in the last 14 days; "
        f"{_n(r['new_students_30d'])} new students in 30 days"
    )


def _reliability(r: Row) -> str:
    failures = r["tutor_no_shows_90d"] + r["tutor_cancels_90d"] + r["tutor_reschedules_90d"]
    text = (
        f"{_n(failures)} of {_n(r['sessions_90d'])} bookings in 90 days missed, cancelled "
        "or rescheduled by the tutor"
    )
    late = r["late_share_90d"]
    if late is not None and not math.isnan(late) and late > 0:
        text += f"; late to {late:.0%} of sessions"
    return text


def _ratings(r: Row) -> str:
    r30, r90 = _f1(r["rating_30d"]), _f1(r["rating_90d"])
    if r30 is None and r90 is None:
        return "no rated sessions in 90 days"
    return f"average rating {r30 or 'n/a'} in the last 30 days ({r90 or 'n/a'} over 90 days)"


def _first(r: Row) -> str:
    failed = r["failed_first_60d"]
    if failed and failed > 0:
        return f"{_n(failed)} failed first sessions in the last 60 days"
    return f"{_n(r['first_sessions_90d'])} first sessions in 90 days"


def _tenure(r: Row) -> str:
    return f"joined {r['tenure_days']:.0f} days ago"


def _profile(_r: Row) -> str:
    return "subject and certification level"


def _timing(r: Row) -> str:
    text = f"starts at {int(r['local_hour']):02d}:00 the tutor's local time"
    if r["odd_hour"] > 0:
        text += " (an unusual hour)"
    return text + f", in {r['hours_ahead']:.0f} hours"


def _booking(r: Row) -> str:
    if r["first_session"] > 0:
        return "first session with this student"
    return (
        f"{_n(r['pair_tutor_reschedules_90d'])} reschedules by the tutor with this student "
        f"in 90 days ({_n(r['pair_sessions_90d'])} sessions)"
    )


# group key → (features by prefix/name, sentence)
GROUPS: dict[str, tuple[tuple[str, ...], Callable[[Row], str]]] = {
    "logins": (
        (
            "days_since_login",
            "logins_7d",
            "logins_14d",
            "logins_30d",
            "logins_prev_30d",
            "login_streak_days",
        ),
        _logins,
    ),
    "activity": (
        (
            "days_since_activity",
            "active_days_14d",
            "other_events_14d",
            "other_events_30d",
            "other_events_prev_30d",
            "activity_ratio_14d",
        ),
        _activity,
    ),
    "sessions": (
        (
            "completed_7d",
            "completed_14d",
            "completed_30d",
            "completed_prev_30d",
            "completed_ratio_14d",
            "sessions_90d",
            "students_30d",
            "ew_sessions",
            "log_sessions_365d",
        ),
        _sessions,
    ),
    "bookings": (("bookings_14d", "bookings_prev_28d", "new_students_30d"), _bookings),
    "reliability": (
        (
            "tutor_no_shows_90d",
            "tutor_cancels_90d",
            "tutor_reschedules_90d",
            "student_no_shows_90d",
            "tutor_failure_rate_90d",
            "tutor_failures_14d",
            "no_show_rate_90d",
            "no_show_rate_30d",
            "reschedule_rate_30d",
            "completion_rate_30d",
            "late_share_90d",
            "ew_no_shows",
            "sessions_180d",
            "tutor_failures_180d",
            "failure_rate_180d_shrunk",
            "late_rate_180d_shrunk",
            "no_show_rate_180d_shrunk",
            "log_no_show_rate_365d",
            "log_cancel_rate_365d",
            "log_reschedule_rate_365d",
            "log_late_start_rate_365d",
        ),
        _reliability,
    ),
    "ratings": (
        (
            "rating_7d",
            "rating_30d",
            "rating_90d",
            "rating_trend",
            "low_rating_share_90d",
            "engagement_90d",
        ),
        _ratings,
    ),
    "first_sessions": (("first_sessions_90d", "first_rating_90d", "failed_first_60d"), _first),
    "tenure": (("tenure_days", "log_tenure"), _tenure),
    "profile": (
        (
            *tuple(
                f"subject_{s}"
                for s in ("math", "science", "english", "history", "test_prep", "programming")
            ),
            "cert_basic",
            "cert_advanced",
            "cert_expert",
        ),
        _profile,
    ),
    "timing": (("hours_ahead", "local_hour", "odd_hour", "weekend"), _timing),
    "booking": (
        (
            "minutes",
            "first_session",
            "pair_sessions_90d",
            "pair_tutor_reschedules_90d",
            "pair_tutor_no_shows_90d",
        ),
        _booking,
    ),
}


def _student(r: Row) -> str:
    due = r["stu_recent_due"]
    if due > 0:
        text = f"the student missed {_n(r['stu_recent_no_shows'])} of their last {_n(due)} sessions"
    else:
        text = "no session of this student in the last 90 days"
    if r["stu_ever_completed"] <= 0:
        text += "; has not completed a session in the last year"
    return text


def _pair(r: Row) -> str:
    if r["first_session"] > 0:
        return "first session with this tutor"
    return (
        f"missed {_n(r['pair_student_no_shows_90d'])} of {_n(r['pair_sessions_90d'])} "
        "sessions with this tutor in 90 days"
    )


def _tutor_students(r: Row) -> str:
    return (
        f"{_n(r['student_no_shows_90d'])} student no-shows in this tutor's "
        f"{_n(r['sessions_90d'])} sessions in 90 days"
    )


# The student no-show model's topics (its features are the student's, the pair's, the
# booking's and two of the tutor's).
STUDENT_GROUPS: dict[str, tuple[tuple[str, ...], Callable[[Row], str]]] = {
    "student": (
        STUDENT_FEATURES,
        _student,
    ),
    "pair": (
        ("first_session", "pair_sessions_90d", "pair_student_no_shows_90d"),
        _pair,
    ),
    "timing": (("hours_ahead", "local_hour", "odd_hour", "weekend", "minutes"), _timing),
    "tutor_students": (("student_no_shows_90d", "sessions_90d"), _tutor_students),
}


def groups_for(target: str) -> dict[str, tuple[tuple[str, ...], Callable[[Row], str]]]:
    """The topics a model of ``target`` is explained by."""
    return STUDENT_GROUPS if target == STUDENT_TARGET else GROUPS


# Every value a sentence above quotes.
SENTENCE_VALUES = (
    "active_days_14d",
    "activity_ratio_14d",
    "bookings_14d",
    "completed_30d",
    "completed_prev_30d",
    "days_since_login",
    "failed_first_60d",
    "first_session",
    "first_sessions_90d",
    "hours_ahead",
    "late_share_90d",
    "local_hour",
    "logins_30d",
    "new_students_30d",
    "odd_hour",
    "pair_sessions_90d",
    "pair_student_no_shows_90d",
    "pair_tutor_reschedules_90d",
    "rating_30d",
    "rating_90d",
    "sessions_90d",
    "stu_ever_completed",
    "stu_recent_due",
    "stu_recent_no_shows",
    "student_no_shows_90d",
    "tenure_days",
    "tutor_cancels_90d",
    "tutor_no_shows_90d",
    "tutor_reschedules_90d",
)


def group_contributions(
    model: RiskModel, frame: pd.DataFrame
) -> dict[str, npt.NDArray[np.float64]]:
    """Per group, each row's contribution to the calibrated log-odds (see module doc)."""
    x = model.matrix(frame)
    col = {f: i for i, f in enumerate(model.features)}
    groups = {
        g: [col[f] for f in feats if f in col]
        for g, (feats, _text) in groups_for(model.target).items()
    }
    groups = {g: idx for g, idx in groups.items() if idx}
    out: dict[str, npt.NDArray[np.float64]] = {}
    if model.algorithm == "logistic":
        pipe = model.estimator
        z = pipe.named_steps["scale"].transform(pipe.named_steps["impute"].transform(x))
        terms = z * pipe.named_steps["model"].coef_[0]
        for g, idx in groups.items():
            out[g] = model.calib_a * terms[:, idx].sum(axis=1)
        return out
    base = model.raw_logit(x)
    for g, idx in groups.items():
        swapped = x.copy()
        for i in idx:
            swapped[:, i] = model.reference.get(model.features[i], 0.0)
        out[g] = model.calib_a * (base - model.raw_logit(swapped))
    return out


def explain(
    model: RiskModel,
    frame: pd.DataFrame,
    top: int = TOP_DRIVERS,
    *,
    only: npt.NDArray[np.bool_] | None = None,
) -> list[list[dict[str, Any]]]:
    """For each row of ``frame``, up to ``top`` drivers ``{key, text, contribution}``
    that raise its risk, largest first; rows outside ``only`` (if given) get none."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(frame))]
    picked = np.arange(len(frame)) if only is None else np.flatnonzero(only)
    if picked.size == 0:
        return out
    sub = frame.iloc[picked]
    contrib = group_contributions(model, sub)
    sentences = groups_for(model.target)
    keys = list(contrib)
    matrix = np.column_stack([contrib[k] for k in keys])
    order = np.argsort(-matrix, axis=1)[:, :top]
    # Only the rows with a driver, and only the values the sentences quote, become dicts
    # (all columns of ~200k sessions took seconds).
    has_driver = np.flatnonzero(np.take_along_axis(matrix, order[:, :1], axis=1)[:, 0] > 0)
    quoted = [c for c in SENTENCE_VALUES if c in sub.columns]
    values: list[Row] = sub.iloc[has_driver][quoted].to_dict("records")  # type: ignore[assignment]
    for i, rec in zip(has_driver, values, strict=True):
        drivers = out[int(picked[i])]
        for j in order[i]:
            value = float(matrix[i, j])
            if value <= 0:
                break
            key = keys[j]
            drivers.append(
                {"key": key, "text": sentences[key][1](rec), "contribution": round(value, 3)}
            )
    return out


def rows_to_explain(
    model: RiskModel, p: npt.NDArray[np.float64], medium: float, *, boosting: str = "all"
) -> npt.NDArray[np.bool_] | None:
    """Which scores get drivers (None = every one): all of a logistic model's (one matrix
    product); a boosting model's drivers cost one prediction per topic, so
    ``boosting="medium"`` (setting ``RISK_BOOSTING_DRIVERS``) limits them to Medium/High."""
    if model.algorithm == "logistic" or boosting == "all":
        return None
    return np.asarray(p >= medium)


def risk_level(p: float, thresholds: tuple[float, float]) -> str:
    """ "High" at or above the high cut-off, "Medium" at or above the medium one, else "Low"."""
    medium, high = thresholds
    if p >= high:
        return "High"
    if p >= medium:
        return "Medium"
    return "Low"
