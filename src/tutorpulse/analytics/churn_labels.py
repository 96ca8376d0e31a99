"""Churn per the data contract (DESIGN §6), as a vectorised label on a tutor frame.

A tutor with ``status = churned`` churned at ``churned_at``. Any other tutor whose last
activity (last completed session or last login) is at least ``inactivity_days`` before
``now`` counts as churned at that last activity; everyone else is censored at ``now``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd


def _utc(col: pd.Series) -> pd.Series:
    s = pd.to_datetime(col, utc=True)
    return s


def label_churn(
    tutors: pd.DataFrame, last_completed: pd.DataFrame, *, now: datetime, inactivity_days: int
) -> pd.DataFrame:
    """Add ``churned`` (bool) and ``churn_time`` (UTC timestamp; ``now`` when censored)."""
    df = tutors.merge(last_completed, on="tutor_id", how="left")
    now_ts = pd.Timestamp(now)
    status_churned = (df["status"] == "churned") & df["churned_at"].notna()
    last = pd.concat([_utc(df["last_completed"]), _utc(df["last_login_at"])], axis=1).max(axis=1)
    joined = pd.to_datetime(df["joined_on"]).dt.tz_localize("UTC")
    last = last.fillna(joined)
    inactive = (now_ts - last) >= pd.Timedelta(days=inactivity_days)
    df["churned"] = status_churned | inactive
    status_time = _utc(df["churned_at"]).where(status_churned, last)
    df["churn_time"] = status_time.where(df["churned"], now_ts)
    return df
