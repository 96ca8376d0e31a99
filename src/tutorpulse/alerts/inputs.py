"""Derived rule inputs computed set-based from plain frames (no database).

- ``days_since_last_session``: the tutor's local today minus the last local day
  with a completed session.
- ``engagement_slope`` / ``_p`` / ``_n``: ordinary least squares of engagement
  score on session order over the tutor's last N completed sessions; the
  two-sided p-value of the slope from Student's t with n − 2 degrees of freedom
  (the same numbers as ``scipy.stats.linregress``, computed for all tutors at once).
- ``logins_14d`` / ``logins_baseline`` / ``logins_expected_14d`` / ``login_ratio``:
  logins in the last 14 local days, in the 56 days before, the baseline scaled to
  14 days, and the ratio of the two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

LOGIN_RECENT_DAYS = 14
LOGIN_BASELINE_DAYS = 56


def days_since_last_session(local_day: pd.Series, last_session_on: pd.Series) -> pd.Series:
    """Whole days (NaN when the tutor never completed a session or has no local day)."""
    today = pd.to_datetime(local_day)
    last = pd.to_datetime(last_session_on)
    return (today - last).dt.days.astype(float)


def engagement_trend(scores: pd.DataFrame, *, last_n: int, min_n: int) -> pd.DataFrame:
    """Slope, p-value and n per tutor from ``tutor_id, scheduled_start, engagement_score``
    (or ``tutor_id, engagement_score, rank`` already ranked, 0 = the most recent).

    Uses each tutor's ``last_n`` most recent sessions; tutors with fewer than
    ``min_n`` (at least 3) get no row.
    """
    columns = ["engagement_slope", "engagement_slope_p", "engagement_slope_n"]
    if scores.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="tutor_id"))
    s = scores
    if "rank" not in s.columns:
        s = s.sort_values(["tutor_id", "scheduled_start"], ascending=[True, False])
        s = s.assign(rank=s.groupby("tutor_id").cumcount())
    s = s[s["rank"] < last_n]
    # x = session order, oldest first; any affine x gives the same slope sign and p-value.
    s = s.assign(x=-s["rank"].astype(float), y=s["engagement_score"].astype(float))
    g = s.groupby("tutor_id")
    n = g["x"].count().astype(float)
    mx, my = g["x"].mean(), g["y"].mean()
    dx = s["x"] - s["tutor_id"].map(mx)
    dy = s["y"] - s["tutor_id"].map(my)
    sxx = (dx * dx).groupby(s["tutor_id"]).sum()
    sxy = (dx * dy).groupby(s["tutor_id"]).sum()
    syy = (dy * dy).groupby(s["tutor_id"]).sum()
    keep = (n >= max(3, min_n)) & (sxx > 0)
    n, sxx, sxy, syy = n[keep], sxx[keep], sxy[keep], syy[keep]
    slope = sxy / sxx
    dof = n - 2
    resid = (syy - slope * sxy).clip(lower=0)
    se = np.sqrt(resid / dof / sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        t: pd.Series = slope / se
    p = pd.Series(2 * stats.t.sf(np.abs(t.to_numpy()), dof.to_numpy()), index=slope.index)
    # A perfect fit (se = 0): p = 0 for a non-zero slope, 1 for a flat line.
    p = p.where(se > 0, np.where(slope != 0, 0.0, 1.0))
    out = pd.DataFrame(
        {"engagement_slope": slope, "engagement_slope_p": p, "engagement_slope_n": n}
    )
    out.index.name = "tutor_id"
    return out


def login_decline(logins: pd.DataFrame, local_day: pd.Series) -> pd.DataFrame:
    """Per tutor (index of ``local_day``): recent and baseline logins and their ratio.

    ``logins`` has ``tutor_id, day, logins``; days after the tutor's local today are ignored.
    """
    idx = local_day.index
    zero = pd.Series(0.0, index=idx)
    if logins.empty:
        recent, base = zero, zero
    else:
        d = logins[logins["tutor_id"].isin(idx)]
        today = pd.to_datetime(d["tutor_id"].map(local_day))
        age = (today - pd.to_datetime(d["day"])).dt.days
        in_recent = (age >= 0) & (age < LOGIN_RECENT_DAYS)
        in_base = (age >= LOGIN_RECENT_DAYS) & (age < LOGIN_RECENT_DAYS + LOGIN_BASELINE_DAYS)
        recent = d["logins"].where(in_recent, 0).groupby(d["tutor_id"]).sum()
        base = d["logins"].where(in_base, 0).groupby(d["tutor_id"]).sum()
    return login_ratios(recent, base, idx)


def login_ratios(recent: pd.Series, base: pd.Series, idx: pd.Index) -> pd.DataFrame:
    """``login_decline``'s columns from per-tutor sums of recent and baseline logins
    (tutors missing from the sums had none)."""
    recent = recent.reindex(idx, fill_value=0).astype(float)
    base = base.reindex(idx, fill_value=0).astype(float)
    expected = base * LOGIN_RECENT_DAYS / LOGIN_BASELINE_DAYS
    ratio = (recent / expected).where(expected > 0)
    return pd.DataFrame(
        {
            "logins_14d": recent,
            "logins_baseline": base,
            "logins_expected_14d": expected,
            "login_ratio": ratio,
        },
        index=idx,
    )
