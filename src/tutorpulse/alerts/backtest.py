"""Backtest: evaluate the rules as of past days using only data available on each day.

For each day D (every ``step_days``) the health of every tutor active on D is
recomputed with ``engagement.rollups.compute_health`` from ``tutor_daily`` rows up
to D (the end of D is "now"), the derived inputs from rows before it, and every
stored rule is evaluated. A tutor "has an alert" from a rule on D when the rule
fires on D. Churn probabilities come from the daily churn-score history
(``churn_score_daily``, written by every ``risk.score`` run): on D a tutor has the
score of the newest stored day in [D − 6, D], else none, so churn_risk_high fires only
on days with stored scores. Session no-show scores have no history, so
upcoming_noshow_risk never fires here.

Per rule and overall:
- ``alerts``: alert episodes (a run of consecutive evaluated days firing for one tutor);
- ``caught``: churners (tutors with ``churned_at`` within [from + 14 d, to + 60 d]) that
  had the rule firing on some day in [churn − 60 d, churn − 14 d], as a share of the
  churners evaluable then;
- ``medianLeadDays``: churn date − first firing day in the 60 days before churn;
- ``precision``: alerted tutors who churned within 60 days after an alert day;
- ``alertsPerCoachWeek``: episodes ÷ coaches ÷ weeks in the window.
"overall" pools the rules of severity medium and above (a tutor caught by any).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from tutorpulse.alerts import inputs
from tutorpulse.alerts.rules import Rule, evaluate_rule
from tutorpulse.engagement.rollups import compute_health

LEAD_DAYS = 14
HORIZON_DAYS = 60
# A stored churn score counts as known on D for this many days (D included).
SCORE_FRESH_DAYS = 7


@dataclass
class BacktestData:
    daily: pd.DataFrame  # DAILY_COLUMNS
    tutors: pd.DataFrame  # id, timezone, joined_on, status, churned_at
    scores: pd.DataFrame  # tutor_id, scheduled_start, engagement_score
    first_sessions: pd.DataFrame  # tutor_id, scheduled_start
    # tutor_id, day, churn_probability, churn_risk_level (the stored daily scores)
    churn_scores: pd.DataFrame | None = None


def _last_login_at(daily: pd.DataFrame, tutors: pd.DataFrame) -> pd.Series:
    """Local noon of each tutor's last login day in ``daily`` (UTC), by tutor id."""
    logged = daily[daily["logins"] > 0].groupby("tutor_id")["day"].max()
    out = pd.Series(pd.NaT, index=tutors["id"], dtype="datetime64[ns, UTC]")
    zones = tutors.set_index("id")["timezone"].reindex(logged.index)
    for zone, ids in zones.groupby(zones).groups.items():
        local = pd.to_datetime(logged.loc[ids]) + pd.Timedelta(hours=12)
        out.loc[ids] = local.dt.tz_localize(str(zone)).dt.tz_convert("UTC").to_numpy()
    return out


def frame_as_of(
    data: BacktestData, day: date, *, trend_sessions: int, trend_min: int, trend_days: int,
    first_session_hours: int,
) -> pd.DataFrame:  # fmt: skip
    """The rule input frame of tutors active at the end of ``day``."""
    # The last instant of UTC day ``day``: local "today" is ``day`` for tutors at or west
    # of UTC (a day later east of it, with no rows after ``day`` yet).
    now = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - timedelta(microseconds=1)
    t = data.tutors
    churned = pd.to_datetime(t["churned_at"], utc=True)
    active = t[(pd.to_datetime(t["joined_on"]) <= pd.Timestamp(day)) & ~(churned < now)]
    daily = data.daily[(data.daily["day"] <= day) & data.daily["tutor_id"].isin(active["id"])]
    tutors = active[["id", "timezone"]].copy()
    tutors["last_login_at"] = _last_login_at(daily, active).reindex(active["id"]).to_numpy()
    tutors["last_login_at"] = (
        tutors["last_login_at"].astype(object).where(tutors["last_login_at"].notna(), None)
    )
    health = compute_health(daily, tutors, now=now)
    frame = health.copy()
    if "tutor_id" in frame.columns:
        frame = frame.set_index("tutor_id")
    frame["poor_first_session_flag"] = frame["poor_first_session_flag"].astype(float)
    frame["last_session_on"] = frame["last_completed_on"]
    frame["days_since_last_session"] = inputs.days_since_last_session(
        frame["local_day"], frame["last_session_on"]
    )
    frame = frame.join(inputs.login_decline(daily[daily["logins"] > 0], frame["local_day"]))
    s = data.scores
    recent = s[
        (s["scheduled_start"] < now)
        & (s["scheduled_start"] >= now - timedelta(days=trend_days))
        & s["tutor_id"].isin(frame.index)
    ]
    frame = frame.join(inputs.engagement_trend(recent, last_n=trend_sessions, min_n=trend_min))
    f = data.first_sessions
    soon = f[
        (f["scheduled_start"] >= now)
        & (f["scheduled_start"] < now + timedelta(hours=first_session_hours))
    ]
    frame["upcoming_first_sessions"] = (
        soon.groupby("tutor_id").size().reindex(frame.index, fill_value=0).astype(float)
    )
    known = known_churn_scores(data.churn_scores, day)
    if not known.empty:
        frame["churn_probability"] = known["churn_probability"].reindex(frame.index)
        frame["churn_risk_level"] = known["churn_risk_level"].reindex(frame.index)
    return frame


def known_churn_scores(history: pd.DataFrame | None, day: date) -> pd.DataFrame:
    """Per tutor (index), the newest stored churn score of the days
    [day − SCORE_FRESH_DAYS + 1, day]; empty when none is stored."""
    if history is None or history.empty:
        return pd.DataFrame(columns=["churn_probability", "churn_risk_level"])
    days = history["day"]
    recent = history[(days <= day) & (days > day - timedelta(days=SCORE_FRESH_DAYS))]
    latest = recent.sort_values("day").groupby("tutor_id").tail(1)
    return latest.set_index("tutor_id")[["churn_probability", "churn_risk_level"]]


def run_backtest(
    data: BacktestData,
    rules: Sequence[Rule],
    *,
    start: date,
    end: date,
    step_days: int,
    coaches: int,
    params: dict[str, int],
    progress: Callable[[date], None] | None = None,
) -> dict[str, Any]:
    """Per-rule and overall figures (see the module docstring)."""
    days = [start + timedelta(days=i) for i in range(0, (end - start).days + 1, step_days)]
    fired: list[pd.DataFrame] = []
    evaluated: dict[date, set[int]] = {}
    scored_days = 0
    for day in days:
        frame = frame_as_of(data, day, **params)
        evaluated[day] = set(frame.index)
        scored_days += int(not known_churn_scores(data.churn_scores, day).empty)
        for rule in rules:
            if not rule.enabled or frame.empty:
                continue
            mask = evaluate_rule(rule, frame).fires
            ids = mask.index[mask.to_numpy()]
            if len(ids):
                fired.append(pd.DataFrame({"rule": rule.key, "tutor_id": ids, "day": day}))
        if progress:
            progress(day)
    hits = (
        pd.concat(fired, ignore_index=True)
        if fired
        else pd.DataFrame({"rule": [], "tutor_id": [], "day": []})
    )
    churn = pd.to_datetime(data.tutors.set_index("id")["churned_at"], utc=True).dropna()
    churn_day = churn.dt.date
    weeks = max(1.0, ((end - start).days + 1) / 7)
    report: dict[str, Any] = {
        "from": start.isoformat(), "to": end.isoformat(), "stepDays": step_days,
        "evaluatedDays": len(days), "coaches": coaches,
        "churnersInWindow": 0, "daysWithChurnScores": scored_days, "rules": {},
    }  # fmt: skip
    # Churners evaluable: churn date such that [churn-60, churn-14] overlaps the window.
    lo, hi = start + timedelta(days=LEAD_DAYS), end + timedelta(days=HORIZON_DAYS)
    churners = churn_day[(churn_day >= lo) & (churn_day <= hi)]
    report["churnersInWindow"] = len(churners)
    groups = [(r.key, hits[hits["rule"] == r.key]) for r in rules if r.enabled]
    # Overall = the warning rules; low-severity rules (first_session_scheduled) are
    # reminders to prepare, not churn warnings.
    warning = [r.key for r in rules if r.enabled and r.severity != "low"]
    groups.append(("overall", hits[hits["rule"].isin(warning)]))
    for key, h in groups:
        report["rules"][key] = _figures(h, churners, churn_day, step_days, coaches, weeks)
    return report


def _figures(
    h: pd.DataFrame,
    churners: pd.Series,
    churn_day: pd.Series,
    step_days: int,
    coaches: int,
    weeks: float,
) -> dict[str, Any]:
    if h.empty:
        return {
            "alerts": 0, "tutorsAlerted": 0, "caught": 0, "caughtShare": None,
            "medianLeadDays": None, "precision": None, "alertsPerCoachWeek": 0.0,
        }  # fmt: skip
    per = h.drop_duplicates(["tutor_id", "day"]).sort_values(["tutor_id", "day"])
    days = pd.to_datetime(per["day"])
    ordinal = pd.Series(days.to_numpy().astype("datetime64[D]").astype(np.int64), index=per.index)
    step = ordinal.groupby(per["tutor_id"]).diff()
    episodes = int((step.isna() | (step > step_days)).sum())
    cd = per["tutor_id"].map(churn_day)
    lead = (pd.to_datetime(cd) - days).dt.days
    in_horizon = lead.between(0, HORIZON_DAYS)
    early = lead.between(LEAD_DAYS, HORIZON_DAYS)
    caught_ids = set(per.loc[early.fillna(False).to_numpy(), "tutor_id"])
    caught = len(caught_ids & set(churners.index))
    first_lead = lead[in_horizon.fillna(False)].groupby(per["tutor_id"]).max()
    alerted = set(per["tutor_id"])
    precise = set(per.loc[in_horizon.fillna(False).to_numpy(), "tutor_id"])
    return {
        "alerts": episodes,
        "tutorsAlerted": len(alerted),
        "caught": caught,
        "caughtShare": round(caught / len(churners), 4) if len(churners) else None,
        "medianLeadDays": float(np.median(first_lead)) if len(first_lead) else None,
        "precision": round(len(precise) / len(alerted), 4) if alerted else None,
        "alertsPerCoachWeek": round(episodes / max(1, coaches) / weeks, 2),
    }
